"""Great Expectations suites derived from the contract, and the validation of each raw batch.

One definition per rule: every ``Rule`` of ``contract.rules_for`` becomes one expectation whose
query selects the batch rows where the rule's ``fault_sql`` holds, and the contract's key gives
one more (DUPLICATE_KEY: a key repeated among rows with no other fault). The suites are written
to ``expectations/<extract>.json`` for review, and a unit test keeps them equal to what the
contract derives. Regenerate them after changing the contract or the seeds with::

    .venv/bin/python -m orchestration.ingestion.expectations --write

Each file's raw batch (every parsed row, before quarantine: the loader's temp table ``__judged``)
is validated by GX's own SQL engine on DuckDB, so each count is an aggregate query DuckDB runs.
The batch lives in a temp table inside the loader's open transaction, which no other connection
can see, so GX is lent the loader's connection itself (``_LentConnection``): nothing is copied,
no personal data leaves the process's memory, and GX can neither begin, commit, roll back nor
close the loader's transaction. GX's SQL path on DuckDB needs one workaround (STACK_NOTES.md): it
reads query results after giving the connection back, which duckdb-engine has dropped by then, so
``_patch_gx_for_duckdb`` makes GX keep one persistent connection for the duckdb dialect, as it
does for sqlite. The expectations are ``UnexpectedRowCountExpectation``: GX's
``UnexpectedRowsExpectation`` with its count metric only, without the second query that fetches
sample rows; that halves the cost, and no row of the file is ever fetched into Python.

The Great Expectations import costs seconds: it happens on the first validation, and the context,
data source and suites are kept for the rest of the process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orchestration.core.settings import REPO_ROOT
from orchestration.ingestion import contract as c

SUITES_DIR = REPO_ROOT / "expectations"
REGENERATE = "python -m orchestration.ingestion.expectations --write"

#: The loader's temp table of one file's parsed rows (ingest.Loader._judge): ``__line``, the
#: normalised text ``v_<column>`` and the typed ``t_<column>`` of every contract column.
JUDGED_TABLE = "__judged"
DUPLICATE_KEY_EXPECTATION = "key_unique"
#: GX's name (type) of ``UnexpectedRowCountExpectation``, as the JSON suites give it.
EXPECTATION_TYPE = "unexpected_row_count_expectation"

_QUOTED = re.compile(r"('(?:[^']|'')*')")
_REFERENCE = re.compile(r"\b([vt])\.(\w+)")


def batch_sql(fault_sql: str) -> str:
    """A rule's predicate over the batch's columns: ``v.x`` → ``v_x``, ``t.__as_at`` → ``__as_at``.

    String literals are left alone, so a code or pattern containing ``v.`` is never rewritten.
    """
    parts = _QUOTED.split(fault_sql)
    for i in range(0, len(parts), 2):
        parts[i] = _REFERENCE.sub(
            lambda m: m[2] if m[2] == "__as_at" else f"{m[1]}_{m[2]}", parts[i]
        )
    return "".join(parts)


def _gx_query(sql: str) -> str:
    """GX formats the query with ``str.format``: literal braces (regex quantifiers) are doubled."""
    return sql.replace("{", "{{").replace("}", "}}")


def rule_query(rule: c.Rule) -> str:
    """The rows of the batch that break the rule (GX counts them; it never fetches them)."""
    return "select __line from {batch} where " + _gx_query(batch_sql(rule.fault_sql))


def duplicate_key_query(extract: c.Extract, rules: list[c.Rule]) -> str:
    """Rows whose key repeats an earlier row's, among rows that break no other rule.

    The loader's DUPLICATE_KEY: the first valid row of a key loads, later ones are quarantined.
    The rules are evaluated only on the rows whose key occurs more than once (a materialised
    CTE, so DuckDB cannot push them below the grouping): five times faster on a national file.
    """
    any_fault = "\n        or ".join(
        f"coalesce({_gx_query(batch_sql(r.fault_sql))}, false)" for r in rules
    )
    key = ", ".join(f"v_{k}" for k in extract.key)
    return (
        "with repeated as materialized (\n"
        f"    select * from {{batch}}\n"
        f"    where ({key}) in (select {key} from {{batch}} group by all having count(*) > 1)\n"
        ")\n"
        "select __line from (\n"
        f"    select __line, row_number() over (partition by {key} order by __line) as seen\n"
        "    from repeated\n"
        f"    where not (\n        {any_fault}\n    )\n"
        ") as valid_rows\nwhere seen > 1"
    )


def _expectation(name: str, reason: str, column: str | None, message: str, query: str) -> dict:
    return {
        "type": EXPECTATION_TYPE,
        "kwargs": {"unexpected_rows_query": query},
        "meta": {"name": name, "reason_code": reason, "column": column},
        "description": message,
        "severity": "critical",
    }


def suite_dict(extract: c.Extract, reference_codes: dict[str, tuple[str, ...]]) -> dict:
    """The suite of one extract as GX's JSON (what ``ExpectationSuite.to_json_dict`` gives)."""
    rules = c.rules_for(extract, reference_codes)
    expectations = [
        _expectation(r.expectation, r.reason_code, r.column, r.message, rule_query(r))
        for r in rules
    ]
    expectations.append(
        _expectation(
            DUPLICATE_KEY_EXPECTATION, c.DUPLICATE_KEY, ", ".join(extract.key),
            f"key ({', '.join(extract.key)}) repeated within the file",
            duplicate_key_query(extract, rules),
        )
    )
    names = [e["meta"]["name"] for e in expectations]
    assert len(set(names)) == len(names), f"expectation names repeat in {extract.name}"
    return {
        "name": extract.name,
        "id": None,
        "expectations": expectations,
        "meta": {
            "source": "orchestration/ingestion/contract.py (rules_for) and seeds/ (codes)",
            "regenerate": REGENERATE,
        },
        "notes": (
            f"The contract's row rules for {extract.name} files, one expectation per rule, run on "
            "every parsed row of a file before quarantine. An unexpected count is the number of "
            "rows breaking that rule; the quarantine gives each row only its first reason. "
            "WRONG_FIELD_COUNT lines never parse into columns and are counted by the loader."
        ),
    }


def suite_dicts(reference_codes: dict[str, tuple[str, ...]] | None = None) -> dict[str, dict]:
    """Every extract's suite, derived from the contract and the seeds."""
    codes = reference_codes or c.load_reference_codes()
    return {name: suite_dict(extract, codes) for name, extract in c.EXTRACTS.items()}


def suite_json(suite: dict) -> str:
    """The committed form of a suite: stable, indented, one trailing newline."""
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


def write_suites(folder: Path = SUITES_DIR) -> list[Path]:
    """Write ``<extract>.json`` for every extract into folder (run after changing the contract)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, suite in suite_dicts().items():
        path = folder / f"{name}.json"
        path.write_text(suite_json(suite), encoding="utf-8")
        written.append(path)
    return written


def stale_suites(folder: Path = SUITES_DIR) -> list[str]:
    """Extracts whose committed suite differs from what the contract derives (none, normally)."""
    stale = []
    for name, suite in suite_dicts().items():
        path = folder / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != suite_json(suite):
            stale.append(name)
    return stale


def load_suite_dicts(folder: Path = SUITES_DIR) -> dict[str, dict]:
    """The committed suites, as the JSON files hold them."""
    out = {}
    for name in c.EXTRACTS:
        path = folder / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: regenerate the suites with `{REGENERATE}`")
        out[name] = json.loads(path.read_text(encoding="utf-8"))
    return out


# -- validation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation's verdict on one batch: a count, never a value."""

    name: str
    reason_code: str
    column: str | None
    unexpected_count: int
    success: bool


@dataclass(frozen=True)
class BatchValidation:
    """A suite's results on one file's raw batch."""

    extract: str
    results: tuple[ExpectationResult, ...]
    seconds: float

    @property
    def success(self) -> bool:
        """True when every expectation held (no row breaks any rule)."""
        return all(r.success for r in self.results)

    def counts(self) -> dict[str, int]:
        """Unexpected rows per expectation name."""
        return {r.name: r.unexpected_count for r in self.results}


class ValidationError(RuntimeError):
    """An expectation could not be evaluated (not: it found bad rows)."""


_expectation_class: type | None = None


def expectation_class() -> type:
    """``UnexpectedRowCountExpectation``, defined (and registered with GX) on first use.

    An ``UnexpectedRowsExpectation`` that depends on the row count alone: GX's own class also
    runs the query a second time to fetch up to 200 of the rows, which doubles the cost and would
    bring rows holding personal data into Python only to leave them out of the result. Its
    configuration is built once per instance (GX rebuilds it dozens of times per validation,
    which was half of GX's own time per file).
    """
    global _expectation_class
    if _expectation_class is None:
        from typing import ClassVar

        import great_expectations as gx
        from great_expectations.compatibility import pydantic

        class UnexpectedRowCountExpectation(gx.expectations.UnexpectedRowsExpectation):
            """Expect the query to select no row of the batch; report how many it selects."""

            metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

            _configuration: Any = pydantic.PrivateAttr(None)

            @property
            def configuration(self) -> Any:
                """Built once: GX asks each expectation for it ~30 times per validation.

                GX copies a configuration before changing it, and our expectations are loaded
                from JSON and never changed, so the cached one cannot go stale.
                """
                if self._configuration is None:
                    self._configuration = super().configuration
                return self._configuration

            def _validate(
                self, metrics: dict, runtime_configuration: dict | None = None,
                execution_engine: Any = None,
            ) -> dict:
                count = int(metrics["unexpected_rows_query.row_count"])
                return {"success": count == 0, "result": {"observed_value": count}}

        _expectation_class = UnexpectedRowCountExpectation
    return _expectation_class


class _LentConnection:
    """A DB-API connection for SQLAlchemy that reads through a DuckDB connection lent to it.

    GX's engine keeps this one object as its persistent connection for the whole process; each
    validation lends it the loader's connection for the duration. Transaction control is the
    loader's alone, so begin, commit, rollback and close do nothing here.
    """

    notices: list[str] = []  # read by SQLAlchemy's PostgreSQL base dialect
    autocommit = None
    closed = False

    def __init__(self) -> None:
        self.con: duckdb.DuckDBPyConnection | None = None

    def _lent(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            raise ValidationError("no DuckDB connection is lent to Great Expectations")
        return self.con

    def cursor(self) -> Any:
        """A duckdb-engine cursor on the lent connection."""
        import duckdb_engine

        return duckdb_engine.CursorWrapper(self._lent(), self)  # type: ignore[arg-type]

    def begin(self) -> None:
        """The loader's transaction is already open."""

    def commit(self) -> None:
        """Only the loader commits."""

    def rollback(self) -> None:
        """Only the loader rolls back (a failed GX query is reported as an error instead)."""

    def close(self) -> None:
        """The connection is the loader's."""

    def __getattr__(self, name: str) -> Any:
        if self.con is None:  # hasattr() and SQLAlchemy's probes need AttributeError
            raise AttributeError(f"{name}: no DuckDB connection is lent to Great Expectations")
        return getattr(self.con, name)


class _DuckDBDialectName(str):
    """'duckdb' in the shape GX's list of persisted-connection dialects expects (an enum value)."""

    @property
    def value(self) -> str:
        return str(self)


def _patch_gx_for_duckdb() -> None:
    """Make GX keep one persistent connection for the duckdb dialect, as it does for sqlite.

    Without it GX reads each result after returning its connection to the pool, duckdb-engine has
    dropped the result by then, and every expectation silently reports failure (STACK_NOTES.md).
    """
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    if not any(d == "duckdb" for d in engine._PERSISTED_CONNECTION_DIALECTS):
        engine._PERSISTED_CONNECTION_DIALECTS = (
            *engine._PERSISTED_CONNECTION_DIALECTS,
            _DuckDBDialectName("duckdb"),
        )


def _batch_view(extract: str) -> str:
    return f"__expect_{extract}"


class _SuiteRunner:
    """An ephemeral GX context with one SQL data source over a lent connection (one per process)."""

    def __init__(self, suites_dir: Path) -> None:
        self.suites_dir = suites_dir
        self.lent = _LentConnection()
        self.lock = threading.Lock()
        self._ready = False

    @contextmanager
    def lend(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Let GX read through con for the block."""
        with self.lock:
            self.lent.con = con
            try:
                if not self._ready:
                    self._set_up()
                yield
            finally:
                self.lent.con = None

    def _set_up(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        _patch_gx_for_duckdb()
        expectation_class()
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_sql(
            "icw_raw_batches",
            connection_string="duckdb:///:memory:",  # the dialect only: connections are lent
            kwargs={"creator": lambda: self.lent},
        )
        self.suites = {
            name: context.suites.add(gx.ExpectationSuite(**suite))
            for name, suite in load_suite_dicts(self.suites_dir).items()
        }
        self.source = source
        self.batches: dict[str, Any] = {}
        self.context = context
        self._ready = True

    def _batch_definition(self, extract: str) -> Any:
        """The extract's whole-table batch (GX checks the table exists, so added on first use)."""
        if extract not in self.batches:
            asset = self.source.add_table_asset(extract, table_name=_batch_view(extract))
            self.batches[extract] = asset.add_batch_definition_whole_table(f"{extract}_file")
        return self.batches[extract]

    def validate(
        self, con: duckdb.DuckDBPyConnection, extract: str, as_at: dt.date
    ) -> BatchValidation:
        """Validate the batch now in con's ``__judged`` with the extract's suite."""
        started = time.perf_counter()
        view = _batch_view(extract)
        columns = ", ".join(
            f"v_{col}, t_{col}" for col in c.EXTRACTS[extract].column_names
        )
        # Only the rows and columns the rules read: the suite cannot see the loader's verdicts.
        con.execute(
            f"create or replace temp view {view} as "
            f"select __line, {columns}, date '{as_at.isoformat()}' as __as_at from {JUDGED_TABLE}"
        )
        try:
            with self.lend(con):
                batch = self._batch_definition(extract).get_batch()
                outcome = batch.validate(self.suites[extract])
        finally:
            con.execute(f"drop view if exists {view}")
        results = []
        for r in outcome.results:
            meta = r.expectation_config.meta
            error = _error_message(r.exception_info)
            if error is not None or "observed_value" not in (r.result or {}):
                raise ValidationError(
                    f"expectation {meta['name']} of the {extract} suite could not be evaluated: "
                    f"{error or 'GX gave no count'}; the file was not loaded"
                )
            results.append(
                ExpectationResult(
                    meta["name"], meta["reason_code"], meta["column"],
                    int(r.result["observed_value"]), bool(r.success),
                )
            )
        return BatchValidation(extract, tuple(results), time.perf_counter() - started)


def _error_message(info: Any) -> str | None:
    """The first line of GX's exception for an expectation, or None if it raised none.

    GX gives either one exception (``raised_exception``, ``exception_message``) or one per failed
    metric. DuckDB's messages can quote a value, so quoted literals are masked.
    """
    if not info:
        return None
    found = [info] if "raised_exception" in info else [
        v for v in info.values() if isinstance(v, dict)
    ]
    for item in found:
        if item.get("raised_exception", True):
            message = str(item.get("exception_message") or "an exception without a message")
            return _QUOTED.sub("'…'", message).splitlines()[0]
    return None


_runners: dict[Path, _SuiteRunner] = {}


def validate_batch(
    con: duckdb.DuckDBPyConnection,
    extract: str,
    as_at: dt.date,
    suites_dir: Path = SUITES_DIR,
) -> BatchValidation:
    """Validate the current file's raw batch (``__judged`` on con) with its extract's suite.

    con is the loader's connection, inside the file's open transaction; it is only read.
    """
    runner = _runners.get(suites_dir)
    if runner is None:
        runner = _runners[suites_dir] = _SuiteRunner(suites_dir)
    return runner.validate(con, extract, as_at)


def record_results(
    con: duckdb.DuckDBPyConnection, load_id: int, file_name: str, validation: BatchValidation
) -> None:
    """Append a file's results to audit.expectation_results (in the caller's transaction)."""
    if not validation.results:
        return
    rows = [
        [load_id, file_name, validation.extract, r.name, r.reason_code, r.column,
         r.unexpected_count, r.success]
        for r in validation.results
    ]
    placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
    con.execute(
        "insert into audit.expectation_results (load_id, file_name, extract, expectation, "
        f"reason_code, column_name, unexpected_count, success) values {placeholders}",
        [value for row in rows for value in row],
    )


# -- what the asset checks report ---------------------------------------------------------------


@dataclass(frozen=True)
class SuiteSummary:
    """An extract's suite results over a set of loaded files, beside the quarantine's counts."""

    extract: str
    files: tuple[str, ...]
    unexpected: dict[str, int]  # rows breaking each expectation, summed over the files
    failed: tuple[str, ...]  # expectations that failed on at least one file
    suite_by_reason: dict[str, int]  # the suite's counts summed per reason code
    quarantine_by_reason: dict[str, int]  # rows quarantined per (first) reason code

    @property
    def passed(self) -> bool:
        """True when every expectation succeeded on every file."""
        return not self.failed

    def comparison_markdown(self) -> str:
        """Reason by reason: rows breaking the rules (suite) and rows quarantined."""
        lines = ["| reason | rows breaking a rule (suite) | rows quarantined |", "|---|---:|---:|"]
        for reason in c.REASON_ORDER:
            suite = self.suite_by_reason.get(reason)
            quarantined = self.quarantine_by_reason.get(reason, 0)
            if suite is None and not quarantined:
                continue
            shown = "not in the suite" if suite is None else str(suite)
            lines.append(f"| {reason} | {shown} | {quarantined} |")
        return "\n".join(lines)


def summarise_results(
    con: duckdb.DuckDBPyConnection, extract: str, since_epoch: float | None = None
) -> SuiteSummary:
    """The suite's results on the extract's files loaded since a moment (a run's start).

    ``since_epoch`` is a Unix time; without it, every file's latest load is summarised. The
    comparison is made in DuckDB, where audit.loads.loaded_at was written, so the session's
    time zone applies to both sides.
    """
    loads = con.execute(
        """
        select load_id, file_name
        from audit.loads
        where status = 'LOADED' and extract = $extract
            and ($since is null or loaded_at >= to_timestamp($since)::timestamp)
        qualify $since is not null
            or row_number() over (partition by file_name order by load_id desc) = 1
        order by load_id
        """,
        {"extract": extract, "since": since_epoch},
    ).fetchall()
    ids = [row[0] for row in loads]
    results = con.execute(
        """
        select expectation, any_value(reason_code), sum(unexpected_count)::bigint,
            bool_and(success)
        from audit.expectation_results
        where list_contains($ids, load_id)
        group by expectation
        """,
        {"ids": ids},
    ).fetchall()
    quarantined = con.execute(
        """
        select reason_code, count(*)
        from audit.quarantined_rows
        where list_contains($ids, load_id)
        group by reason_code
        """,
        {"ids": ids},
    ).fetchall()
    order = {e["meta"]["name"]: i for i, e in enumerate(
        suite_dict(c.EXTRACTS[extract], c.load_reference_codes())["expectations"])}
    results.sort(key=lambda r: order.get(r[0], len(order)))
    by_reason: dict[str, int] = {}
    for _, reason, count, _ in results:
        by_reason[reason] = by_reason.get(reason, 0) + int(count)
    return SuiteSummary(
        extract=extract,
        files=tuple(row[1] for row in loads),
        unexpected={name: int(count) for name, _, count, _ in results},
        failed=tuple(name for name, _, _, ok in results if not ok),
        suite_by_reason=by_reason,
        quarantine_by_reason={reason: int(n) for reason, n in quarantined},
    )


def main(argv: list[str] | None = None) -> int:
    """Write the suites (``--write``) or check the committed ones are current (``--check``)."""
    parser = argparse.ArgumentParser(prog="python -m orchestration.ingestion.expectations")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="write expectations/<extract>.json")
    group.add_argument("--check", action="store_true", help="fail if a suite is out of date")
    parser.add_argument("--folder", type=Path, default=SUITES_DIR)
    args = parser.parse_args(argv)
    if args.write:
        for path in write_suites(args.folder):
            print(f"wrote {path}")
        return 0
    stale = stale_suites(args.folder)
    for name in stale:
        print(f"{args.folder / (name + '.json')} is out of date: run `{REGENERATE}`")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
