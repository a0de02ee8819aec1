"""Great Expectations on DuckDB: the adapter that lets GX's SQL engine read the loader's batch.

The batch lives in a temp table inside the loader's open transaction, which no other connection
can see, so GX is lent the loader's connection itself (``LentConnection``): nothing is copied,
no personal data leaves the process's memory, and GX can neither begin, commit, roll back nor
close the loader's transaction. GX's SQL path on DuckDB needs one workaround (docs/stack.md): it
reads query results after giving the connection back, which duckdb-engine has dropped by then, so
``patch_gx_for_duckdb`` makes GX keep one persistent connection for the duckdb dialect, as it
does for sqlite. The expectations are ``UnexpectedRowCountExpectation`` (``expectation_class``):
GX's ``UnexpectedRowsExpectation`` with one count metric of our own instead of its two queries
(count, then sample rows): ``unexpected_rows_query.row_count_by_file`` counts the unexpected rows
per file of the batch (``group by __file``), so one validation of an extract's files of a run
gives each file its own counts, and no row of any file is ever fetched into Python. Great
Expectations itself is imported only when these are first used: the import costs seconds.
"""

from __future__ import annotations

from typing import Any

import duckdb

from orchestration.ingestion.gx_import import great_expectations


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

        gx = great_expectations()
        from great_expectations.compatibility import pydantic

        _count_by_file_metric()

        class UnexpectedRowCountExpectation(gx.expectations.UnexpectedRowsExpectation):
            """Expect the query to select no row of the batch; report how many it selects.

            The observed value is the batch's total; ``details.unexpected_count_by_file`` gives
            the count of each file (its ``__file`` number) that has any.
            """

            metric_dependencies: ClassVar[tuple[str, ...]] = (BY_FILE_METRIC,)

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
                by_file = dict(metrics[BY_FILE_METRIC])
                count = sum(by_file.values())
                return {
                    "success": count == 0,
                    "result": {"observed_value": count,
                               "details": {"unexpected_count_by_file": by_file}},
                }

        _expectation_class = UnexpectedRowCountExpectation
    return _expectation_class


#: The metric behind every expectation: unexpected rows per file of the batch.
BY_FILE_METRIC = "unexpected_rows_query.row_count_by_file"
_metric_defined = False


def _count_by_file_metric() -> None:
    """Define (and so register with GX) the metric ``unexpected_rows_query.row_count_by_file``.

    GX's ``unexpected_rows_query.row_count`` wraps the query in ``select count(*)``; this one in
    ``select __file, count(*) ... group by __file``, so the query must select ``__file`` (the
    suites' queries do). One aggregate query per expectation, whatever the number of files.
    """
    global _metric_defined
    if _metric_defined:
        return
    great_expectations()
    from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
    from great_expectations.core.metric_domain_types import MetricDomainTypes
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    from great_expectations.expectations.metrics.metric_provider import metric_value
    from great_expectations.expectations.metrics.query_metric_provider import (
        QueryMetricProvider,
        render_derived_table_alias,
    )

    class UnexpectedRowsQueryRowCountByFile(QueryMetricProvider):
        metric_name = BY_FILE_METRIC
        value_keys = ("unexpected_rows_query",)
        query_param_name = "unexpected_rows_query"

        @metric_value(engine=SqlAlchemyExecutionEngine)
        def _sqlalchemy(
            cls, execution_engine: Any, metric_domain_kwargs: dict,
            metric_value_kwargs: dict, metrics: dict, runtime_configuration: dict,
        ) -> dict[int, int]:
            selectable, _, _ = execution_engine.get_compute_domain(
                metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
            )
            query = cls._get_query_from_metric_value_kwargs(metric_value_kwargs)
            subquery = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
                query=query, batch_selectable=selectable, execution_engine=execution_engine
            )
            aliased = render_derived_table_alias(
                subquery=subquery, alias="unexpected_rows",
                dialect_name=execution_engine.dialect_name,
            )
            rows = execution_engine.execute_query(
                sa.text(f"SELECT __file, COUNT(*) FROM {aliased} GROUP BY __file")
            ).fetchall()
            return {int(file): int(n) for file, n in rows}

    _metric_defined = True


class LentConnection:
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


def patch_gx_for_duckdb() -> None:
    """Make GX keep one persistent connection for the duckdb dialect, as it does for sqlite.

    Without it GX reads each result after returning its connection to the pool, duckdb-engine has
    dropped the result by then, and every expectation silently reports failure (docs/stack.md).
    """
    great_expectations()
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    if not any(d == "duckdb" for d in engine._PERSISTED_CONNECTION_DIALECTS):
        engine._PERSISTED_CONNECTION_DIALECTS = (
            *engine._PERSISTED_CONNECTION_DIALECTS,
            _DuckDBDialectName("duckdb"),
        )
