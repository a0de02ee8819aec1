"""The Evidence report, built from a read-only copy of the published marts."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.defs.transformation.publish import PUBLISHED_KEY
from orchestration.lib.report import build_report
from orchestration.lib.settings import Settings

REPORT_KEY = dg.AssetKey(["report", "site"])


@dg.asset(
    key=REPORT_KEY,
    deps=[PUBLISHED_KEY],
    group_name="reporting",
    description="The senior managers' report (Evidence), built into $ICW_HOME/reports/site.",
    kinds={"evidence"},
)
def report_site(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Checkpoint the warehouse so its file is complete, then build the site from a copy."""
    settings = Settings.from_env()
    with duckdb.get_connection() as con:
        con.execute("checkpoint")
    result = build_report(settings.warehouse, settings.reports_dir, log=context.log.info)
    return dg.MaterializeResult(
        metadata={
            "site": dg.MetadataValue.path(str(result.site_dir)),
            "seconds": dg.MetadataValue.float(round(sum(result.seconds.values()), 1))
            if isinstance(getattr(result, "seconds", None), dict)
            else dg.MetadataValue.text(str(getattr(result, "seconds", ""))),
        }
    )
