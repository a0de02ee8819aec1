"""The report and its PDF pack, built from a copy of the published marts; the PDF by email."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.core.resources import IcwSettings, warehouse_connection
from orchestration.core.stoppable import requested as stop_requested
from orchestration.core.stoppable import stoppable
from orchestration.reporting import delivery
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
        "The senior managers' report (Evidence) in $ICW_HOME/reports/site, the division pack "
        "$ICW_HOME/reports/icw-pack-<YYYY-MM>.pdf and one scorecard per LDU, "
        "$ICW_HOME/reports/icw-scorecard-<LDU>-<YYYY-MM>.pdf. A failed build keeps the last "
        "good ones."
    ),
    kinds={"evidence", "pdf"},
)
def report_site(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, icw_settings: IcwSettings
) -> dg.MaterializeResult:
    """Checkpoint the warehouse so its file is complete, then build site and PDFs from a copy."""
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
            "pack": dg.MetadataValue.path(str(result.pack_path)),
            "pack_pages": dg.MetadataValue.int(result.pack_pages),
            # LDU code -> its scorecard's path
            "scorecards": dg.MetadataValue.json(
                {code: str(path) for code, path in result.scorecards.items()}
            ),
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
        "This run's division pack and LDU scorecards, each emailed only to its recipients "
        "(seeds/report_recipients.csv, or ICW_REPORT_RECIPIENTS_FILE) through ICW_SMTP_HOST, by "
        "the monthly schedule; every outcome is in audit.report_deliveries. Fails after trying "
        "everyone if any was not sent. Not materialised when email is not configured."
    ),
    kinds={"email"},
    output_required=False,
)
def report_emailed(
    context: dg.AssetExecutionContext, icw_settings: IcwSettings, duckdb: DuckDBResource
):
    """Send this run's PDFs (orchestration/reporting/delivery.py); skip when email is not set up.

    Only the files the report step of this same run recorded are sent: a run whose report (or
    the checks before it) failed never reaches this step, and an older report is never sent.
    """
    settings = icw_settings.get()
    if not delivery.is_configured(settings):
        context.log.info("report not emailed: set ICW_SMTP_HOST to send the PDFs")
        return
    event = context.instance.get_latest_materialization_event(REPORT_KEY)
    if event is None or event.run_id != context.run_id or event.asset_materialization is None:
        raise dg.Failure(
            description="nothing was emailed: the report step of this run recorded no PDFs "
            f"(the latest report is from run {event.run_id if event else 'none'})"
        )
    metadata = event.asset_materialization.metadata
    month = str(metadata["reporting_month"].value) if "reporting_month" in metadata else ""
    as_at = str(metadata["as_at_date"].value) if "as_at_date" in metadata else ""
    pack = Path(str(metadata["pack"].value)) if "pack" in metadata else None
    scorecards = {
        code: Path(path)
        for code, path in (metadata["scorecards"].value if "scorecards" in metadata else {}).items()
    }
    try:
        recipients = delivery.load_recipients(settings)
    except delivery.DeliveryError as exc:
        raise dg.Failure(description=f"The report was built but not emailed: {exc}") from exc
    try:
        outcomes = delivery.deliver(
            settings, recipients, month, pack, scorecards, as_at or None, log=context.log.info
        )
        unsent = None
    except delivery.DeliveryError as exc:
        outcomes, unsent = delivery.none_sent(recipients, month, str(exc)), exc
    try:
        with warehouse_connection(duckdb) as con:
            delivery.record(con, context.run_id, month, outcomes)
    except Exception as exc:  # what was sent was sent: a failed audit write must not hide it
        context.log.warning(f"the deliveries were not recorded in audit.report_deliveries: {exc}")
    if unsent is not None:
        raise dg.Failure(description=f"The report was built but not emailed: {unsent}")
    failed = [o for o in outcomes if o.status != "SENT"]
    yield dg.MaterializeResult(
        metadata={
            "reporting_month": dg.MetadataValue.text(month),
            "sent": dg.MetadataValue.int(len(outcomes) - len(failed)),
            "failed": dg.MetadataValue.int(len(failed)),
            "deliveries": dg.MetadataValue.json(
                [
                    {"recipient": o.email, "file": o.file_name, "status": o.status,
                     "attempts": o.attempts, "error": o.error}
                    for o in outcomes
                ]
            ),
        }
    )
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} of {len(outcomes)} recipients were not sent their PDF: "
            + "; ".join(f"{o.email} ({o.file_name}): {o.error}" for o in failed)
        )
