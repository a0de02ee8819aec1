"""Build the Evidence report from the warehouse and publish it, keeping the last good site.

Evidence 39 (see STACK_NOTES.md) has habits that this module exists to contain:

- It opens its DuckDB source read-only, which still conflicts with a writer holding the lock, so
  the report reads a copy of the warehouse placed in its source folder.
- `npm run sources` logs a failed source query and exits 0, leaving the previous run's parquet
  in place; a report could silently show last month's figures. Stale data is removed before the
  run and every source query must have written a fresh result afterwards (an empty result writes
  none, and pages reading it would fail, so it counts as a failure too).
- `npm run build:strict` fails on compile errors, but a page query that fails while pages are
  prerendered is only logged (`<query> | Error in Query!`) and the build exits 0; the output is
  searched for it.
- `npm run build` copies into `build/` over what is there. The folder is emptied first, and the
  finished site is installed beside the published one and swapped in, so readers only ever see a
  whole site and a failed build leaves the last good one in place.
- Templated pages are prerendered only when the build can find them, and their links are drawn
  in the browser: the routes are written for `svelte.config.js` from the warehouse copy, and
  every page the PDF needs must exist after the build.

The PDF pack (orchestration/reporting/pdf.py) is printed from the finished build before
anything is published, so the site and the PDF are published together or not at all; the
Methods page is generated from docs/methods.md at every build (report_content.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from orchestration.reporting.content import (
    METHODS_SOURCE,
    ReportContentError,
    ReportFacts,
    missing_pages,
    pdf_sections,
    read_facts,
    write_methods_page,
    write_prerender_entries,
)
from orchestration.reporting.pdf import (  # noqa: F401  (re-exported for callers and tests)
    PdfError,
    build_pdf_pack,
    chromium_command,
    find_chromium,
    render_pdf,
    serve_directory,
)

SOURCE_NAME = "icw"
"""The Evidence source folder (`reports/sources/icw`), and the schema prefix pages query."""

WAREHOUSE_COPY = "warehouse.duckdb"
"""File name of the warehouse copy in the source folder; `connection.yaml` names it."""

STEP_TIMEOUT_SECONDS = 20 * 60
"""A step that runs longer than this is hung (Evidence 40 waits for ever on a download)."""

_DATA_DIR = Path(".evidence", "template", "static", "data")
_TEMPLATE_BUILD_DIR = Path(".evidence", "template", "build")

# Lines of npm and Evidence output that are noise when explaining a failure.
_NOISE = re.compile(
    r"^\s*$|^\s*>|npm (notice|warn)|^\s*at |node_modules/|^\s*-+\s*$|✔|Processing|"
    r"^\s*\[(Skipping|Processing)\]"
)
_ERRORISH = re.compile(r"error|failed|✖|✘|cannot|could not|not found|exception", re.IGNORECASE)


class ReportBuildError(RuntimeError):
    """The report could not be built; the message is one line naming the step and the cause.

    `output` keeps the step's whole output for the log, because the one-line message can only
    carry its last meaningful lines.
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(" ".join(message.split()))
        self.output = output


@dataclass(frozen=True)
class ReportResult:
    """What a build produced: the published site and PDF, and how long each step took."""

    site_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)
    log_file: Path | None = None
    pdf_path: Path | None = None
    pdf_pages: int = 0
    facts: ReportFacts | None = None


def pdf_name(facts: ReportFacts) -> str:
    """The PDF's file name: one per reporting month, so earlier months' packs are kept."""
    return f"icw-report-{facts.month_label}.pdf"


def last_good_report(out_dir: Path) -> str:
    """Say what a reader still has after a failed build: the published site and newest PDF."""
    site = out_dir / "site" / "index.html"
    pdfs = sorted(out_dir.glob("icw-report-*.pdf"))
    if not site.is_file() and not pdfs:
        return "there is no earlier report to keep"
    parts = []
    if site.is_file():
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(site.stat().st_mtime))
        parts.append(f"the site built {built} ({site.parent})")
    if pdfs:
        parts.append(f"the PDF {pdfs[-1]}")
    return "the last good report stays in place: " + " and ".join(parts)


def default_project_dir() -> Path:
    """The Evidence project of this repository (`reports/`)."""
    return Path(__file__).resolve().parents[2] / "reports"


def find_npm() -> Path:
    """Locate npm, failing with what to install rather than a bare FileNotFoundError."""
    npm = shutil.which("npm")
    if npm is None:
        raise ReportBuildError(
            "npm not found on PATH: install Node.js 20 (with npm), then run `make install`"
        )
    return Path(npm)


def check_project(project_dir: Path) -> None:
    """Fail early, with the fix, when the Evidence project or its npm packages are missing.

    Without this, a missing `node_modules` surfaces as `sh: 1: evidence: not found` from npm.
    """
    if not (project_dir / "package.json").is_file():
        raise ReportBuildError(f"no Evidence project at {project_dir} (package.json missing)")
    if not (project_dir / "node_modules" / "@evidence-dev" / "evidence").is_dir():
        raise ReportBuildError(
            "run `make install` (npm packages missing in "
            f"{project_dir.name}/node_modules, looked in {project_dir / 'node_modules'})"
        )


def build_report(
    warehouse: Path,
    out_dir: Path,
    project_dir: Path | None = None,
    log: Callable[[str], None] = print,
    methods_file: Path | None = None,
    with_pdf: bool = True,
) -> ReportResult:
    """Build the report from `warehouse`; publish it as `out_dir/site` and the PDF pack beside it.

    The caller makes sure the warehouse file is complete (checkpointed, no writer mid-run); this
    function only copies it. Builds of the same project are serialised by a lock file, because
    Evidence works in fixed folders inside the project. The full output of the npm steps is
    written to `out_dir/report-build.log`. The PDF is `out_dir/icw-report-<YYYY-MM>.pdf`, named
    by the reporting month; `with_pdf=False` skips it (the site alone, for quick checks).

    Raises:
        ReportBuildError: a precondition is missing or a step failed; the published site and
            PDF, if any, are untouched.
    """
    project_dir = (project_dir or default_project_dir()).resolve()
    methods_file = (methods_file or METHODS_SOURCE).resolve()
    warehouse = warehouse.resolve()
    if not warehouse.is_file():
        raise ReportBuildError(f"warehouse not found: {warehouse}")
    if not methods_file.is_file():
        raise ReportBuildError(
            f"{methods_file} is missing: the Methods page is generated from it at every build. "
            "Write (or restore) docs/methods.md, then build the report again"
        )
    npm = find_npm()
    check_project(project_dir)
    chromium = find_chromium() if with_pdf else None
    out_dir.mkdir(parents=True, exist_ok=True)
    log_file = out_dir / "report-build.log"
    seconds: dict[str, float] = {}
    staged_pdf: Path | None = None

    try:
        with _project_lock(project_dir, log), log_file.open("w", encoding="utf-8") as log_stream:
            started = time.monotonic()
            copy = project_dir / "sources" / SOURCE_NAME / WAREHOUSE_COPY
            _copy_warehouse(warehouse, copy)
            facts = read_facts(copy)
            write_prerender_entries(project_dir, facts)
            write_methods_page(project_dir, methods_file)
            seconds["copy"] = time.monotonic() - started
            log(
                f"report: copied {warehouse.name} into sources/{SOURCE_NAME}/ (reporting month "
                f"{facts.month_label}, {len(facts.ldus)} LDUs, {len(facts.interventions)} "
                "interventions)"
            )

            for stale in (
                project_dir / _DATA_DIR,
                project_dir / _TEMPLATE_BUILD_DIR,
                project_dir / "build",
            ):
                shutil.rmtree(stale, ignore_errors=True)

            env = _npm_env()
            seconds["sources"], output = _run_step(
                "npm run sources", [str(npm), "run", "sources"], project_dir, env, log, log_stream
            )
            _check_sources(project_dir, output)

            seconds["build"], output = _run_step(
                "npm run build", [str(npm), "run", "build:strict"], project_dir, env, log,
                log_stream,
            )
            _check_build(output)
            built = project_dir / "build"
            if not (built / "index.html").is_file():
                raise ReportBuildError(
                    f"npm run build: finished but {built / 'index.html'} is missing; see {log_file}"
                )
            missing = missing_pages(built, facts)
            if missing:
                raise ReportBuildError(
                    f"npm run build: pages missing from the site: {', '.join(missing[:8])}"
                    + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
                )

            pack = None
            if with_pdf:
                started = time.monotonic()
                staged_pdf = out_dir / f".{pdf_name(facts)}.{uuid.uuid4().hex}.staged"
                pack = build_pdf_pack(
                    built, staged_pdf, facts, pdf_sections(facts), chromium=chromium, log=log
                )
                seconds["pdf"] = time.monotonic() - started
                log(f"report: printed {pack.pages} PDF pages in {seconds['pdf']:.1f} s")

            started = time.monotonic()
            site_dir = _install_site(built, out_dir)
            pdf_path = None
            if staged_pdf is not None:
                pdf_path = out_dir / pdf_name(facts)
                os.replace(staged_pdf, pdf_path)
                staged_pdf = None
            seconds["install"] = time.monotonic() - started
    except (ReportContentError, PdfError) as exc:
        raise ReportBuildError(str(exc), getattr(exc, "output", "")) from exc
    finally:
        if staged_pdf is not None:
            staged_pdf.unlink(missing_ok=True)
    log(
        f"report: published {site_dir}"
        + (f" and {pdf_path}" if pdf_path else "")
        + " ("
        + ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items())
        + ")"
    )
    return ReportResult(
        site_dir=site_dir,
        seconds=seconds,
        log_file=log_file,
        pdf_path=pdf_path,
        pdf_pages=pack.pages if pack else 0,
        facts=facts,
    )


@contextlib.contextmanager
def _project_lock(project_dir: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on the project; the kernel drops it if the process dies."""
    with (project_dir / ".build.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"report: waiting for another build of {project_dir} to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _copy_warehouse(warehouse: Path, target: Path) -> None:
    """Copy the warehouse (and its WAL, which holds committed work) next to the report's queries.

    The copy is written under a temporary name and renamed, so a half-copied file is never read,
    and made read-only because nothing should write to it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for source, destination in (
        (warehouse, target),
        (warehouse.with_name(warehouse.name + ".wal"), target.with_name(target.name + ".wal")),
    ):
        destination.unlink(missing_ok=True)
        if not source.exists():
            continue
        partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(source, partial)
            partial.chmod(0o444)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)


def _npm_env() -> dict[str, str]:
    """The environment of the npm steps: no telemetry, no colour codes in the captured output."""
    env = dict(os.environ)
    env.update(
        {
            "send_anonymous_usage_stats": "no",
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "CI": "1",
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
        }
    )
    return env


def _run_step(
    step: str,
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    log: Callable[[str], None],
    log_stream: TextIO,
) -> tuple[float, str]:
    """Run one npm step in its own process group, so a hang can be killed with its children."""
    log(f"report: {step} ...")
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=STEP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        _write_log(log_stream, step, output)
        raise ReportBuildError(
            f"{step}: no result after {STEP_TIMEOUT_SECONDS} s, stopped", output
        ) from None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    elapsed = time.monotonic() - started
    _write_log(log_stream, step, output)
    if process.returncode != 0:
        raise ReportBuildError(
            f"{step} failed (exit {process.returncode}): {_last_meaningful_lines(output)}", output
        )
    log(f"report: {step} done in {elapsed:.1f} s")
    return elapsed, output


def _write_log(log_stream: TextIO, step: str, output: str) -> None:
    log_stream.write(f"===== {step}\n{output}\n")
    log_stream.flush()


def _last_meaningful_lines(output: str, count: int = 3) -> str:
    """The lines that explain a failure: the last error-like ones, else the last non-noise ones."""
    lines = [_strip_ansi(line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not _NOISE.search(line)]
    errorish = [line for line in lines if _ERRORISH.search(line)]
    chosen = (errorish or lines)[-count:]
    return " | ".join(dict.fromkeys(chosen)) or "no output"


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def _check_sources(project_dir: Path, output: str) -> None:
    """Check that every source query wrote a fresh result, since Evidence exits 0 when one fails.

    The data folder was emptied before the run, so a result that exists now is this run's. An
    empty result is an error too: Evidence 39 writes no table for it, so every page query that
    reads it would fail.
    """
    data_dir = project_dir / _DATA_DIR
    queries = sorted(p.stem for p in (project_dir / "sources" / SOURCE_NAME).glob("*.sql"))
    missing = [
        name
        for name in queries
        if not (data_dir / SOURCE_NAME / name / f"{name}.parquet").is_file()
    ]
    if not missing:
        return
    lines = [_strip_ansi(line).strip() for line in output.splitlines()]
    empty = [
        name
        for name in missing
        if any(re.match(rf"{re.escape(name)} \S+ Finished, wrote 0 rows", line) for line in lines)
    ]
    errors = [line for line in lines if re.search(r"✖|Error", line)]
    problems = []
    if empty:
        problems.append(
            f"source queries {_qualified(empty)} returned no rows (Evidence 39 writes no table "
            "for an empty result; check the warehouse's marts are built)"
        )
    failed = [name for name in missing if name not in empty]
    if failed:
        problems.append(
            f"source queries {_qualified(failed)} wrote no data: "
            + (" | ".join(errors[-3:]) or "no error reported")
        )
    raise ReportBuildError("npm run sources: " + "; ".join(problems), output)


def _qualified(queries: list[str]) -> str:
    return ", ".join(f"{SOURCE_NAME}.{query}" for query in queries)


def _check_build(output: str) -> None:
    """Fail on a page query that failed while the pages were prerendered.

    Even `build:strict` (run so that compile errors fail) only logs `<query> | Error in Query!`
    and exits 0, publishing a page with an error box where the figures should be.
    """
    failed = [
        _strip_ansi(line).strip() for line in output.splitlines() if "| Error in Query!" in line
    ]
    if failed:
        raise ReportBuildError(
            f"npm run build: page queries failed: {' | '.join(dict.fromkeys(failed))}", output
        )


def _install_site(built: Path, out_dir: Path) -> Path:
    """Copy the build beside the published site, then swap the two in one step.

    The copy happens first, so a full disk or a crash leaves the published site whole. The swap
    is one `renameat2(RENAME_EXCHANGE)` where the kernel offers it, else two renames.
    """
    site = out_dir / "site"
    staging = out_dir / f".site-{uuid.uuid4().hex}.tmp"
    try:
        shutil.copytree(built, staging)
        if site.exists():
            _exchange(staging, site)
            shutil.rmtree(staging)  # now the previous site
        else:
            os.replace(staging, site)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return site


def _exchange(a: Path, b: Path) -> None:
    """Atomically swap two paths (Linux renameat2), falling back to two renames."""
    libc_name = ctypes.util.find_library("c")
    renameat2 = (
        getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None) if libc_name else None
    )
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
        if result == 0:
            return
    aside = b.with_name(f".{b.name}-{uuid.uuid4().hex}.old")
    os.replace(b, aside)
    os.replace(a, b)
    os.replace(aside, a)
