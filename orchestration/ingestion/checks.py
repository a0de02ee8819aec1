"""Asset checks on ingestion: nothing is lost, what the contract's suites found, and freshness."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.ingestion.assets import LOADS_KEY, RAW_KEYS
from orchestration.ingestion.expectation_results import summarise_results
from orchestration.ingestion.freshness import caseload_freshness


@dg.asset_check(
    asset=LOADS_KEY,
    description="For every loaded file, rows read = rows loaded + rows quarantined.",
    blocking=True,
)
def every_row_accounted_for(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Fail (and stop what depends on the loads) if any file's rows do not add up."""
    with duckdb.get_connection() as con:
        bad = con.execute(
            """
            select l.file_name, l.rows_read, l.rows_loaded, l.rows_quarantined,
                (select count(*) from audit.quarantined_rows q where q.load_id = l.load_id)
            from audit.loads l
            where l.status = 'LOADED' and (
                l.rows_read is distinct from l.rows_loaded + l.rows_quarantined
                or l.rows_quarantined <> (
                    select count(*) from audit.quarantined_rows q where q.load_id = l.load_id)
            )
            """
        ).fetchall()
        files = con.execute("select count(*) from audit.loads where status = 'LOADED'").fetchone()
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "files_checked": dg.MetadataValue.int(files[0]),
            "files_not_adding_up": dg.MetadataValue.json([r[0] for r in bad]),
        },
    )


def _run_start(context: dg.AssetCheckExecutionContext) -> float | None:
    """When this run started (Unix time), to pick the files it loaded."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    return record.start_time if record else None


def _expectation_check(extract: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=RAW_KEYS[extract],
        name=f"{extract}_expectations",
        description=(
            f"The Great Expectations suite expectations/{extract}.json, one expectation per rule "
            "of the contract, run on every parsed row of each file this run loaded (before "
            "quarantine); warns when any row breaks a rule, beside the quarantine's counts."
        ),
        blocking=False,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource
    ) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            summary = summarise_results(con, extract, _run_start(context))
        return dg.AssetCheckResult(
            passed=summary.passed,
            severity=dg.AssetCheckSeverity.WARN,  # bad rows are quarantined; the run goes on
            metadata={
                "files_checked": dg.MetadataValue.int(len(summary.files)),
                "expectations_failed": dg.MetadataValue.json(list(summary.failed)),
                "unexpected_rows_per_expectation": dg.MetadataValue.json(summary.unexpected),
                "suite_rows_per_reason": dg.MetadataValue.json(summary.suite_by_reason),
                "quarantined_rows_per_reason": dg.MetadataValue.json(
                    summary.quarantine_by_reason
                ),
                "suite_and_quarantine": dg.MetadataValue.md(summary.comparison_markdown()),
            },
        )

    return _check


#: One check per extract on its raw asset, from the suites' results in audit.expectation_results.
expectation_checks = [_expectation_check(name) for name in RAW_KEYS]

@dg.asset_check(
    asset=dg.AssetKey(["raw", "caseload"]),
    name="caseload_arrived_within_35_days",
    description="Warns when no caseload snapshot has arrived (been loaded) for over 35 days.",
)
def caseload_arrived_within_35_days(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Glue: the rule is orchestration.ingestion.freshness."""
    with duckdb.get_connection() as con:
        result = caseload_freshness(con, dt.datetime.now(dt.UTC))
    return dg.AssetCheckResult(
        passed=result.is_fresh,
        severity=dg.AssetCheckSeverity.WARN,
        description=result.describe(),
        metadata={
            "last_snapshot_date": dg.MetadataValue.text(str(result.last_snapshot_date or "none")),
            "days_since_arrival": (
                dg.MetadataValue.text("never loaded")
                if result.days_since_arrival is None
                else dg.MetadataValue.float(round(float(result.days_since_arrival), 1))
            ),
        },
    )
