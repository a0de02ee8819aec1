"""The landing folder's extracts, loaded by one ordered loader (a multi-asset)."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.core.resources import IcwSettings, WarehouseLock, warehouse_connection
from orchestration.core.stoppable import stop_point, stoppable
from orchestration.ingestion.contract import EXTRACTS
from orchestration.ingestion.key_fingerprint import check_before_loading
from orchestration.ingestion.loader import ingest
from orchestration.ingestion.outcomes import DUPLICATE, LOADED, REJECTED, IngestSummary

RAW_KEYS = {name: dg.AssetKey(["raw", name]) for name in EXTRACTS}
LOADS_KEY = dg.AssetKey(["audit", "loads"])
QUARANTINE_KEY = dg.AssetKey(["audit", "quarantined_rows"])


def _extract_metadata(summary: IngestSummary, extract: str) -> dict[str, dg.MetadataValue]:
    outcomes = summary.for_extract(extract)
    return {
        "files_loaded": dg.MetadataValue.int(sum(o.status == LOADED for o in outcomes)),
        "files_rejected": dg.MetadataValue.int(sum(o.status == REJECTED for o in outcomes)),
        "files_duplicate": dg.MetadataValue.int(sum(o.status == DUPLICATE for o in outcomes)),
        "rows_loaded": dg.MetadataValue.int(sum(o.rows_loaded or 0 for o in outcomes)),
        "rows_quarantined": dg.MetadataValue.int(sum(o.rows_quarantined or 0 for o in outcomes)),
    }


def _progress_and_stop_point(context: dg.AssetExecutionContext):
    """The loader's progress lines, written between files, to the run's log.

    They are also where a stop (SIGTERM, SIGINT, the UI) whose exception was lost is honoured;
    a stop during a file rolls that file back (the loader's transaction).
    """

    def progress(line: str) -> None:
        context.log.info(line)
        stop_point(context)

    return progress


@dg.multi_asset(
    name="landed_extracts",
    specs=[
        *(
            dg.AssetSpec(key, description=f"Loaded {name} rows (raw.{name}), by the contract.",
                         group_name="ingestion", kinds={"duckdb"})
            for name, key in RAW_KEYS.items()
        ),
        dg.AssetSpec(LOADS_KEY, description="One row per file per arrival (audit.loads).",
                     group_name="ingestion", kinds={"duckdb"}),
        dg.AssetSpec(QUARANTINE_KEY, description="Rows kept out, with reasons "
                     "(audit.quarantined_rows).", group_name="ingestion", kinds={"duckdb"}),
    ],
    pool="warehouse",
)
def landed_extracts(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    warehouse_lock: WarehouseLock,
    icw_settings: IcwSettings,
):
    """Load every file in the landing folder, in the contract's order, one commit per file.

    First, check_before_loading (ingestion/key_fingerprint.py) refuses a key that did not build the
    warehouse, before any file is read, for runs from the UI, the sensor and the schedule too.
    """
    settings = icw_settings.get()
    settings.check_landing()
    with stoppable(context), warehouse_connection(duckdb) as con:
        if note := check_before_loading(con, settings):
            context.log.info(note)
        if warning := settings.warn_if_demo_key():
            context.log.warning(warning)
        summary = ingest(con, settings, log=_progress_and_stop_point(context))
    for name, key in RAW_KEYS.items():
        yield dg.MaterializeResult(asset_key=key, metadata=_extract_metadata(summary, name))
    yield dg.MaterializeResult(
        asset_key=LOADS_KEY,
        metadata={
            "files_this_run": dg.MetadataValue.int(len(summary.outcomes)),
            "unrecognised_files": dg.MetadataValue.json(summary.unrecognised),
        },
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE_KEY,
        metadata={"rows_quarantined": dg.MetadataValue.int(summary.rows_quarantined)},
    )
