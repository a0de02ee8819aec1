"""Run the `refresh` job in process, as `icw refresh` and `icw report` do, and summarise it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.core import diskspace, stopping
from orchestration.core.lock import warehouse_lock
from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect
from orchestration.ingestion.key_fingerprint import check_warehouse_key

DAGSTER_YAML = """# Written by icw: runs, logs and schedules live in $ICW_HOME/dagster.
telemetry:
  enabled: false
concurrency:
  pools:
    # One writer at a time: DuckDB allows a single writing process.
    default_limit: 1
"""


class RefreshFailed(RuntimeError):
    """The run did not complete; the message says which step failed and why."""


class RefreshStopped(RuntimeError):
    """The run was stopped on request (SIGTERM, SIGINT, or terminated from the Dagster UI)."""

    def __init__(self, signum: int | None, published: bool) -> None:
        super().__init__("stopped on request")
        #: the stop signal; None when the run was terminated from the Dagster UI
        self.signum = signum
        #: whether this run had already published the marts when it stopped
        self.published = published


class _WithoutStackTraces:
    """A logging filter: the console says what failed; the run's event log keeps the trace.

    A failure's message keeps its first error; its stack trace and the chain of causes (each
    with its own trace) are left to the UI. icw's last line names the cause.
    """

    @staticmethod
    def filter(record) -> bool:
        if isinstance(record.msg, str) and "\nStack Trace:\n" in record.msg:
            record.msg = record.msg.split("\nStack Trace:\n", 1)[0].rstrip()
        return True


def _console_logger():
    """Dagster's console logger, without the stack traces of failures a user can act on.

    `icw report` before any refresh used to print ReportContentError's traceback above its
    one-line message. The Dagster UI still shows every trace: it reads the event log.
    """
    import dagster as dg

    @dg.logger(
        config_schema={
            "log_level": dg.Field(str, is_required=False, default_value="INFO"),
            "name": dg.Field(str, is_required=False, default_value="dagster"),
        },
        description="Dagster's coloured console log, without Python stack traces.",
    )
    def console(init_context):
        logger = dg.colored_console_logger.logger_fn(init_context)
        logger.addFilter(_WithoutStackTraces())
        return logger

    return console


@dataclass
class RunSummary:
    """What a refresh did, for the end-of-run lines."""

    files: dict[str, int] = field(default_factory=dict)
    rows_loaded: int = 0
    rows_quarantined: int = 0
    unrecognised: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    #: checks of WARN severity that found something (flags, quarantined rows, stale caseload)
    warnings: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    flags_available: bool = False
    seconds: float = 0.0
    report: Path | None = None
    report_pdf: Path | None = None
    #: seconds per Dagster step (ingestion, dbt, publish, report), from the run's events
    stages: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary a user reads at the end of a run."""
        files = ", ".join(
            f"{self.files.get(s, 0)} {s.lower()}" for s in ("LOADED", "REJECTED", "DUPLICATE")
        )
        out = [
            f"Refresh complete in {self.seconds:.0f}s.",
            f"  Files: {files}"
            + (f"; {len(self.unrecognised)} unrecognised left in landing" if self.unrecognised
               else ""),
            f"  Rows: {self.rows_loaded:,} loaded, {self.rows_quarantined:,} quarantined",
            "  Checks failed: " + (", ".join(self.failed_checks) if self.failed_checks else "none"),
            "  Warnings: " + (", ".join(self.warnings) if self.warnings else "none"),
        ]
        if self.flags_available:
            out.append(
                "  LDUs flagged at ALARM (latest year and quarter): "
                + (", ".join(self.flagged) or "none")
            )
        if self.stages:
            steps = ", ".join(f"{k} {v:.1f}s" for k, v in self.stages.items())
            out.append(f"  Time: {steps}; start-up and Dagster {self.overhead:.1f}s")
        if self.report:
            out.append(f"  Report: {self.report}")
        if self.report_pdf:
            out.append(f"  Division pack: {self.report_pdf} (scorecards beside it)")
        return out

    @property
    def overhead(self) -> float:
        """Wall time not spent inside a step: process start, imports, Dagster's own work."""
        return max(self.seconds - sum(self.stages.values()), 0.0)

    def as_json(self) -> dict:
        """The summary as written to $ICW_HOME/last_run.json (benchmarks read it)."""
        return {
            "seconds": round(self.seconds, 3),
            "stages": {k: round(v, 3) for k, v in self.stages.items()},
            "overhead": round(self.overhead, 3),
            "files": self.files,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "failed_checks": self.failed_checks,
            "warnings": self.warnings,
        }


def prepare_dagster_home(settings: Settings) -> Path:
    """Give Dagster a home inside ICW_HOME, with telemetry off and a writer pool of one."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home


def _failure_line(result) -> str:
    """The first failed step and its error, in one line."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            message = (error.message or "").strip().splitlines()
            cause = error.cause.message.strip().splitlines() if error.cause else []
            detail = (cause or message or ["unknown error"])[-1]
            # "orchestration.reporting.site.ReportBuildError: the warehouse lacks ..." -> message
            detail = re.sub(r"^(?:[\w]+\.)*\w*(?:Error|Exception): ", "", detail)
            return f"step '{event.step_key}' failed: {detail}"
    return "the run failed before any step (see the Dagster log above)"


def _failure_texts(result) -> list[str]:
    """The full error text (message and causes) of each failed step."""
    return [
        event.event_specific_data.error.to_string()
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE" and event.event_specific_data.error
    ]


STEP_NAMES = {
    "landed_extracts": "ingestion",
    "icw_dbt_models": "dbt",
    "marts__published": "publish",
    "report__site": "report",
    "report__emailed": "report",
}


def step_seconds(entries) -> dict[str, float]:
    """Seconds per step of a run, from its event log's STEP_START and STEP_SUCCESS entries."""
    started: dict[str, float] = {}
    out: dict[str, float] = {}
    for entry in entries:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            if event.step_key in started:
                # asset checks run as steps of their own: one stage, "checks"
                name = STEP_NAMES.get(event.step_key, "checks")
                out[name] = out.get(name, 0.0) + entry.timestamp - started[event.step_key]
    return out


def summarise(settings: Settings, since: dt.datetime, result) -> RunSummary:
    """Read this run's outcome back from the warehouse's audit and marts."""
    summary = RunSummary()
    con = connect(settings.warehouse, read_only=True)
    try:
        rows = con.execute(
            """
            select status, count(*), coalesce(sum(rows_loaded), 0),
                coalesce(sum(rows_quarantined), 0)
            from audit.loads where loaded_at >= ? group by status
            """,
            [since.replace(tzinfo=None)],
        ).fetchall()
        for status, n, loaded, quarantined in rows:
            summary.files[status] = n
            summary.rows_loaded += loaded
            summary.rows_quarantined += quarantined
        summary.unrecognised = [
            p.name for p in settings.landing_dir.iterdir() if p.is_file()
        ] if settings.landing_dir.is_dir() else []
        # Which findings are current is decided once, in reporting.current_findings (dbt).
        has_flags = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'reporting' and table_name = 'current_findings'"
        ).fetchone()[0]
        if has_flags:
            summary.flags_available = True
            summary.flagged = [
                r[0]
                for r in con.execute(
                    "select distinct ldu_code from reporting.current_findings "
                    "where level = 'ALARM' order by 1"
                ).fetchall()
            ]
    finally:
        con.close()
    if result is not None:
        summary.failed_checks, summary.warnings = failed_checks(result)
    return summary


def failed_checks(result) -> tuple[list[str], list[str]]:
    """(failed, warnings): the run's checks that found something, as `<asset>:<check>`.

    The summary check of the blocking dbt tests is named by the tests that failed (its metadata
    lists them), as each test's own check was before they were summarised.
    """
    import dagster as dg

    from orchestration.transformation.dbt_tests import SUMMARY_CHECK

    failed: list[str] = []
    warnings: list[str] = []
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.severity == dg.AssetCheckSeverity.WARN:
            warnings.append(name)
        elif evaluation.check_name == SUMMARY_CHECK and "failed_tests" in evaluation.metadata:
            failed.extend(evaluation.metadata["failed_tests"].value or [name])
        else:
            failed.append(name)
    return sorted(failed), sorted(warnings)


def _write_last_run(settings: Settings, content: dict) -> None:
    """$ICW_HOME/last_run.json: the last run's summary (benchmarks and scripts read it)."""
    (settings.home / "last_run.json").write_text(
        json.dumps(content, indent=2) + "\n", encoding="utf-8")


def _stopped(instance, result) -> RefreshStopped | None:
    """If the run ended because a stop was requested: mark it CANCELED and say so."""
    import dagster as dg

    from orchestration.core.stoppable import stop_message

    signum = stopping.requested()
    run = instance.get_run_by_id(result.run_id)
    terminated = run is not None and run.status in (
        dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)
    if signum is None and not terminated:
        return None
    if run is not None and run.status != dg.DagsterRunStatus.CANCELED:
        # stopped between two steps, before any step saw it: Dagster recorded a failure
        instance.report_run_canceled(run, message=stop_message(signum))
    published = any(
        event.step_key == "marts__published" for event in result.get_step_success_events()
    )
    return RefreshStopped(signum, published)


def run_refresh(
    settings: Settings,
    with_report: bool = True,
    only_report: bool = False,
    wait: bool = False,
    log: Callable[[str], None] = print,
) -> RunSummary:
    """Run the `refresh` job in this process under the writer's lock; raise on failure."""
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from orchestration.core.stoppable import mark_canceling
    from orchestration.definitions import build_definitions
    from orchestration.reporting.assets import DELIVERY_KEY, REPORT_KEY

    started = time.perf_counter()
    since = dt.datetime.now(dt.UTC)
    settings.ensure_dirs()
    prepare_dagster_home(settings)
    with stopping.watch(), warehouse_lock(settings.lock_file, wait=wait, log=log):
        # before any work: a disk that fills up part-way costs a run (docs/operations.md)
        needed = diskspace.check_free_space(settings, report=with_report or only_report,
                                            load=not only_report)
        if not only_report:  # the report reads no file and makes no person_id
            # Refuses (KeyMismatch) before any file is read if the key did not build the warehouse
            if note := check_warehouse_key(settings):
                log(note)
        if warning := settings.warn_if_demo_key():
            log(f"WARNING: {warning}")
        defs = build_definitions(settings)
        job = defs.resolve_job_def("refresh").with_logger_defs({"console": _console_logger()})
        # Emailing the PDF belongs to the monthly schedule's job, not to `icw refresh`.
        keys = set(defs.resolve_asset_graph().materializable_asset_keys) - {DELIVERY_KEY}
        if only_report:
            selection = {REPORT_KEY}
        elif with_report:
            selection = keys
        else:
            selection = keys - {REPORT_KEY}
        _hide_closes_interrupted_by_a_stop()
        with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            run_id = make_new_run_id()
            # a stop marks the run canceling at once, so Dagster ends it CANCELED, not FAILURE
            try:
                with stopping.on_stop(lambda s: mark_canceling(instance, run_id, s)):
                    result = job.execute_in_process(
                        instance=instance,
                        asset_selection=sorted(selection),
                        raise_on_error=False,
                        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
                        tags={"icw/launched_by": "icw-cli"},
                        run_id=run_id,
                    )
            except Exception as exc:  # Dagster's own storage failing: a full disk, most often
                if diskspace.is_disk_full(exc):
                    raise diskspace.DiskFull(
                        diskspace.full_message(settings, needed, ran_out=True)) from None
                raise
            stages = step_seconds(instance.all_logs(result.run_id))
            if not result.success and (stopped := _stopped(instance, result)):
                raise stopped
    if not result.success:
        if any(diskspace.is_disk_full(text) for text in _failure_texts(result)):
            raise diskspace.DiskFull(diskspace.full_message(settings, needed, ran_out=True))
        failure = _failure_line(result)
        # the failed run's checks and times, so that last_run.json never shows an older run's
        summary = RunSummary(stages=stages, seconds=time.perf_counter() - started)
        summary.failed_checks, summary.warnings = failed_checks(result)
        _write_last_run(settings, {**summary.as_json(), "failed": failure})
        raise RefreshFailed(failure)
    summary = summarise(settings, since, result)
    summary.stages = stages
    summary.seconds = time.perf_counter() - started
    _write_last_run(settings, summary.as_json())
    if with_report or only_report:
        summary.report = settings.reports_dir / "site" / "index.html"
        # The pack just built: named by its reporting month, so the newest name is the latest.
        pdfs = sorted(settings.reports_dir.glob("icw-pack-*.pdf"))
        summary.report_pdf = pdfs[-1] if pdfs else None
    return summary


class _CloseInterruptedByStop(logging.Filter):
    """Drop SQLAlchemy's "Exception closing connection" when the exception is the stop itself.

    A stop raises DagsterExecutionInterruptedError wherever the run happens to be; when that is
    inside SQLAlchemy closing one of Dagster's SQLite connections, SQLAlchemy's pool logs it with
    a traceback. The stop is then reported once, plainly, like any other.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from dagster._core.errors import DagsterExecutionInterruptedError

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, DagsterExecutionInterruptedError)


_STOP_FILTER = _CloseInterruptedByStop()


def _hide_closes_interrupted_by_a_stop() -> None:
    """Filter the handlers SQLAlchemy's pool log reaches: the root's, or logging's last resort."""
    for handler in [*logging.getLogger().handlers, logging.lastResort]:
        if handler is not None and _STOP_FILTER not in handler.filters:
            handler.addFilter(_STOP_FILTER)
