"""Publish the audited marts (write, audit, publish)."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.defs.stopping import stoppable
from orchestration.lib.publish import publish_marts
from orchestration.resources import WarehouseLock, warehouse_connection

PUBLISHED_KEY = dg.AssetKey(["marts", "published"])


def build_publish_asset(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """An asset that runs only after every mart and its blocking tests succeeded."""

    @dg.asset(
        key=PUBLISHED_KEY,
        deps=mart_keys,
        group_name="marts",
        description="The published schema `marts`: the last build whose blocking tests passed.",
        kinds={"duckdb"},
        pool="warehouse",
    )
    def published_marts(
        context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse_lock: WarehouseLock
    ) -> dg.MaterializeResult:
        with stoppable(context), warehouse_connection(duckdb) as con:
            tables = publish_marts(con)  # one transaction: a stop part-way publishes nothing
        context.log.info(f"published {len(tables)} tables: {', '.join(tables)}")
        return dg.MaterializeResult(metadata={"tables": dg.MetadataValue.json(tables)})

    return published_marts
