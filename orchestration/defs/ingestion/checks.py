"""Asset checks on ingestion: the contract's promise that nothing is lost."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.defs.ingestion.assets import LOADS_KEY


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
