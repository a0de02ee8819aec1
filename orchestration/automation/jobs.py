"""The refresh job, the monthly report job and its schedule, and the landing-folder sensor."""


import hashlib

import dagster as dg

from orchestration.core.resources import IcwSettings
from orchestration.core.settings import Settings
from orchestration.ingestion.files import landed_files
from orchestration.reporting.assets import DELIVERY_KEY

refresh_job = dg.define_asset_job(
    name="refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(DELIVERY_KEY),
    description="Load landed extracts, build and test the marts, publish them, build the report.",
    # One process for the whole run: the writer's lock is held from first asset to last, and
    # each step avoids the cost of starting a subprocess.
    executor_def=dg.in_process_executor,
)

monthly_report_job = dg.define_asset_job(
    name="monthly_report",
    selection=dg.AssetSelection.all(),
    description=(
        "The monthly run: the whole refresh, then the report and its PDF pack, then the PDF "
        "emailed to ICW_REPORT_RECIPIENTS (when email is configured)."
    ),
    executor_def=dg.in_process_executor,
)

monthly_refresh_schedule = dg.ScheduleDefinition(
    name="monthly_refresh",
    job=monthly_report_job,
    # Month-end extracts land in the first days of the month; the report is read from the 6th.
    cron_schedule="0 7 6 * *",
    execution_timezone="Europe/London",
    description=(
        "07:00 on the 6th of each month (Europe/London): refresh, build the report and its PDF, "
        "and email the PDF. Only this schedule emails; refreshes started by new files or by "
        "`icw refresh` do not."
    ),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def landing_fingerprint(settings: Settings) -> str | None:
    """A fingerprint of the extract files waiting in the landing folder (None when empty)."""
    files = [f for f in landed_files(settings.landing_dir) if f.recognised]
    if not files:
        return None
    parts = []
    for f in files:
        stat = f.path.stat()
        parts.append(f"{f.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dg.sensor(
    name="landing_sensor",
    job=refresh_job,
    minimum_interval_seconds=60,
    description="Starts a refresh when extract files arrive in the landing folder.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(context: dg.SensorEvaluationContext, icw_settings: IcwSettings):
    """Request one refresh per new set of landed files."""
    fingerprint = landing_fingerprint(icw_settings.get())
    if fingerprint is None:
        return dg.SkipReason("no extract files in the landing folder")
    if fingerprint == context.cursor:
        return dg.SkipReason("these files have already triggered a refresh")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=f"landing-{fingerprint}")
