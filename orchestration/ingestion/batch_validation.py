"""Validating an extract's raw batch with its GX suite, inside the loader's transaction.

The raw batch is every parsed row, before quarantine, of the extract's files of a run (the
loader's temp table ``__judged``, its ``__fileno`` telling the files apart). It is validated once
by GX's own SQL engine on DuckDB, so each count is an aggregate query DuckDB runs, through the
loader's own connection lent to GX (``gx_duckdb``), grouped by file: each file still gets its own
counts (``BatchValidation.for_file``). The results are counts per expectation, never a value; an
expectation GX could not evaluate raises ``ValidationError``, and the loader then rolls the
files back. The Great Expectations import costs seconds: it happens on the first validation, and
the context, data source and suites are kept for the rest of the process (one ``SuiteRunner``
per suites folder).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from orchestration.ingestion import contract as c
from orchestration.ingestion.expectations import QUOTED_LITERAL, SUITES_DIR, load_suite_dicts
from orchestration.ingestion.gx_duckdb import (
    LentConnection,
    ValidationError,
    expectation_class,
    patch_gx_for_duckdb,
)

#: The loader's temp table of the parsed rows (judging.judge): ``__fileno`` (which file),
#: ``__line``, ``__as_at``, the normalised text ``v_<column>`` of every contract column and the
#: typed ``t_<column>`` of those whose type is not text. A table without ``__fileno`` is one
#: file's rows (number 0).
JUDGED_TABLE = "__judged"


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
    """A suite's results on a raw batch: totals, and each file's counts by its number."""

    extract: str
    results: tuple[ExpectationResult, ...]
    seconds: float
    #: expectation name -> {file number: unexpected rows}, files without any left out
    by_file: dict[str, dict[int, int]] = field(default_factory=dict)

    def for_file(self, fileno: int) -> BatchValidation:
        """The results of one file of the batch, as validating it alone would give them."""
        results = []
        for r in self.results:
            count = self.by_file.get(r.name, {}).get(fileno, 0)
            results.append(ExpectationResult(r.name, r.reason_code, r.column, count, count == 0))
        return BatchValidation(self.extract, tuple(results), self.seconds,
                               {name: {fileno: n} for name, n in
                                ((r.name, r.unexpected_count) for r in results) if n})

    @property
    def success(self) -> bool:
        """True when every expectation held (no row breaks any rule)."""
        return all(r.success for r in self.results)

    def counts(self) -> dict[str, int]:
        """Unexpected rows per expectation name."""
        return {r.name: r.unexpected_count for r in self.results}


def _batch_view(extract: str) -> str:
    return f"__expect_{extract}"


class SuiteRunner:
    """An ephemeral GX context with one SQL data source over a lent connection (one per process)."""

    def __init__(self, suites_dir: Path) -> None:
        self.suites_dir = suites_dir
        self.lent = LentConnection()
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
        from orchestration.ingestion.gx_import import great_expectations

        gx = great_expectations()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        patch_gx_for_duckdb()
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
        self, con: duckdb.DuckDBPyConnection, extract: str, as_at: dt.date | None = None
    ) -> BatchValidation:
        """Validate the batch now in con's ``__judged`` with the extract's suite.

        ``as_at`` is the as-at date of a one-file batch without an ``__as_at`` column.
        """
        started = time.perf_counter()
        view = _batch_view(extract)
        present = {d[0] for d in con.execute(f"select * from {JUDGED_TABLE} limit 0").description}
        columns = ", ".join(  # __judged keeps no t_ copy of a text column
            f"v_{col}, {'t' if f't_{col}' in present else 'v'}_{col} as t_{col}"
            for col in c.EXTRACTS[extract].column_names
        )
        file = "__fileno" if "__fileno" in present else "0"
        at = f"date '{as_at.isoformat()}'" if as_at is not None else "__as_at"
        # Only the rows and columns the rules read: the suite cannot see the loader's verdicts.
        con.execute(
            f"create or replace temp view {view} as select {file} as __file, __line, "
            f"{columns}, {at} as __as_at from {JUDGED_TABLE}"
        )
        try:
            with self.lend(con):
                batch = self._batch_definition(extract).get_batch()
                outcome = batch.validate(self.suites[extract])
        finally:
            con.execute(f"drop view if exists {view}")
        results = []
        by_file: dict[str, dict[int, int]] = {}
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
            counts = (r.result.get("details") or {}).get("unexpected_count_by_file") or {}
            by_file[meta["name"]] = {int(k): int(v) for k, v in counts.items()}
        return BatchValidation(extract, tuple(results), time.perf_counter() - started, by_file)


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
            return QUOTED_LITERAL.sub("'…'", message).splitlines()[0]
    return None


_runners: dict[Path, SuiteRunner] = {}


def validate_batch(
    con: duckdb.DuckDBPyConnection,
    extract: str,
    as_at: dt.date | None = None,
    suites_dir: Path = SUITES_DIR,
) -> BatchValidation:
    """Validate the raw batch (``__judged`` on con) with its extract's suite, counts per file.

    con is the loader's connection, inside its open transaction; it is only read. ``as_at`` is
    needed only for a one-file batch without an ``__as_at`` column.
    """
    runner = _runners.get(suites_dir)
    if runner is None:
        runner = _runners[suites_dir] = SuiteRunner(suites_dir)
    return runner.validate(con, extract, as_at)
