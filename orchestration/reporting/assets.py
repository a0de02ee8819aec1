"""The report and its PDF pack, built from a copy of the published marts; the PDF by email."""

import datetime as dt
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.core.resources import IcwSettings, warehouse_connection
from orchestration.core.stoppable import requested as stop_requested
from orchestration.core.stoppable import stoppable
from orchestration.reporting.delivery import DeliveryError, is_configured, send_report
from orchestration.reporting.evidence import ReportBuildError
from orchestration.reporting.site import build_report, last_good_report
from orchestration.transformation.assets import PUBLISHED_KEY

REPORT_KEY = dg.AssetKey(["report", "site"])
DELIVERY_KEY = dg.AssetKey(["report", "emailed"])


@dg.asset(
    key=REPORT_KEY,
    deps=[PUBLISHED_KEY],
    group_name="reporting",
    description=(
        "The senior managers' report (Evidence) in $ICW_HOME/reports/site and its PDF pack, "
        "$ICW_HOME/reports/icw-report-<YYYY-MM>.pdf. A failed build keeps the last good ones."
    ),
    kinds={"evidence", "pdf"},
)
def report_site(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, icw_settings: IcwSettings
) -> dg.MaterializeResult:
    """Checkpoint the warehouse so its file is complete, then build the site and PDF from a copy."""
    settings = icw_settings.get()
    # a stop kills Evidence's and Chromium's processes (reporting/site.py); the last report stays
    with stoppable(context):
        with warehouse_connection(duckdb) as con:
            con.execute("checkpoint")
        try:
            result = build_report(settings.warehouse, settings.reports_dir, log=context.log.info)
        except ReportBuildError as exc:
            if stop_requested(context):
                raise  # not the build's failure: stoppable() ends the run as stopped
            kept = last_good_report(settings.reports_dir)
            message = f"The report was not rebuilt: {exc}. {kept[0].upper()}{kept[1:]}."
            context.log.error(message)
            raise dg.Failure(
                description=message,
                metadata={
                    "kept": dg.MetadataValue.text(kept),
                    "log": dg.MetadataValue.path(str(settings.reports_dir / "report-build.log")),
                },
            ) from exc
    facts = result.facts
    return dg.MaterializeResult(
        metadata={
            "site": dg.MetadataValue.path(str(result.site_dir)),
            "pdf": dg.MetadataValue.path(str(result.pdf_path)),
            "pdf_pages": dg.MetadataValue.int(result.pdf_pages),
            "reporting_month": dg.MetadataValue.text(facts.month_label if facts else ""),
            "as_at_date": dg.MetadataValue.text(
                facts.as_at_date.isoformat() if facts and facts.as_at_date else ""
            ),
            "seconds": dg.MetadataValue.json(
                {step: round(value, 1) for step, value in result.seconds.items()}
            ),
        }
    )


@dg.asset(
    key=DELIVERY_KEY,
    deps=[REPORT_KEY],
    group_name="reporting",
    description=(
        "The month's PDF pack emailed to ICW_REPORT_RECIPIENTS through ICW_SMTP_HOST, by the "
        "monthly schedule. Not materialised when email is not configured."
    ),
    kinds={"email"},
    output_required=False,
)
def report_emailed(context: dg.AssetExecutionContext, icw_settings: IcwSettings):
    """Send the PDF this run's report step published; skip quietly when email is not set up."""
    settings = icw_settings.get()
    if not is_configured(settings):
        context.log.info(
            "report not emailed: set ICW_SMTP_HOST and ICW_REPORT_RECIPIENTS to send the PDF"
        )
        return
    event = context.instance.get_latest_materialization_event(REPORT_KEY)
    metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
    if "pdf" not in metadata:
        raise dg.Failure(description="no PDF to send: the report step recorded none")
    pdf = Path(str(metadata["pdf"].value))
    month = str(metadata["reporting_month"].value) if "reporting_month" in metadata else ""
    as_at = str(metadata["as_at_date"].value) if "as_at_date" in metadata else ""
    try:
        sent = send_report(settings, pdf, _month_title(month), as_at or None)
    except DeliveryError as exc:
        raise dg.Failure(description=f"The report was built but not emailed: {exc}") from exc
    context.log.info(f"emailed {pdf.name} to {', '.join(sent.recipients)}")
    yield dg.MaterializeResult(
        metadata={
            "recipients": dg.MetadataValue.json(list(sent.recipients)),
            "pdf": dg.MetadataValue.path(str(sent.pdf_path)),
            "message_id": dg.MetadataValue.text(sent.message_id),
        }
    )


def _month_title(label: str) -> str:
    """`2025-09` -> `September 2025` (the label as it is when it is not a month)."""
    try:
        return dt.datetime.strptime(label, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return label
