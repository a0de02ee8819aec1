"""A warning when no caseload snapshot has arrived for more than 35 days."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.lib.freshness import caseload_freshness


@dg.asset_check(
    asset=dg.AssetKey(["raw", "caseload"]),
    name="caseload_arrived_within_35_days",
    description="Warns when no caseload snapshot has arrived (been loaded) for over 35 days.",
)
def caseload_arrived_within_35_days(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Glue: the rule is orchestration.lib.freshness."""
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
