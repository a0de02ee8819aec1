"""The ICW Dagster code location: ingestion → dbt → publish → report, one asset graph."""

from __future__ import annotations

import dagster as dg

from orchestration.automation.jobs import (
    landing_sensor,
    monthly_refresh_schedule,
    monthly_report_job,
    refresh_job,
)
from orchestration.core.resources import build_resources
from orchestration.core.settings import Settings
from orchestration.ingestion.assets import landed_extracts
from orchestration.ingestion.checks import (
    caseload_arrived_within_35_days,
    every_row_accounted_for,
    expectation_checks,
)
from orchestration.reporting.assets import report_emailed, report_site
from orchestration.transformation.assets import (
    build_dbt_assets,
    build_publish_asset,
    build_spark_assets,
    mart_keys,
)
from orchestration.transformation.checks import consistency_checks, disclosure_checks
from orchestration.transformation.spark import TARGET as SPARK_TARGET


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Assemble the definitions for the given settings (the environment's by default)."""
    settings = settings or Settings.from_env()
    # DuckDB builds with dbt-duckdb's Python models; Spark in two builds around the statistics
    dbt_models = build_spark_assets() if settings.dbt_target == SPARK_TARGET \
        else [build_dbt_assets()]
    return dg.Definitions(
        assets=[landed_extracts, *dbt_models, build_publish_asset(mart_keys(dbt_models)),
                report_site, report_emailed],
        asset_checks=[every_row_accounted_for, caseload_arrived_within_35_days,
                      *expectation_checks, *consistency_checks, *disclosure_checks],
        jobs=[refresh_job, monthly_report_job],
        schedules=[monthly_refresh_schedule],
        sensors=[landing_sensor],
        resources=build_resources(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Entry point for `dagster dev` and `dagster definitions validate`."""
    return build_definitions()
