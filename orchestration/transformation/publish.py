"""Write, audit, publish: copy the audited builds into the published schemas in one transaction.

dbt builds the published tables into build schemas (`marts_build`, `reporting_build`) and runs
its tests there. Only a build whose blocking tests all passed is published, so `marts` and
`reporting` always hold the last good build and readers never see a half-built or failing one.
"""

from __future__ import annotations

import duckdb

from orchestration.core.settings import Settings
from orchestration.reporting.history import can_snapshot, snapshot_publication

#: build schema -> published schema
PUBLISHED_SCHEMAS = {"marts_build": "marts", "reporting_build": "reporting"}


def publish_marts(
    con: duckdb.DuckDBPyConnection, history_months: int | None = None
) -> list[str]:
    """Replace every published table by its audited build; return `schema.table` names.

    In the same transaction, a full publish records itself in `published_history`
    (orchestration/reporting/history.py), keeping `history_months` reporting months
    (ICW_PUBLISHED_HISTORY_MONTHS when None).
    """
    plan: list[tuple[str, str, str]] = []
    for build, published in PUBLISHED_SCHEMAS.items():
        for (table,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
            [build],
        ).fetchall():
            plan.append((build, published, table))
    if not any(build == "marts_build" for build, _, _ in plan):
        raise RuntimeError("nothing to publish: schema marts_build has no tables")
    con.begin()
    try:
        for build, published, table in plan:
            con.execute(f"create schema if not exists {published}")
            con.execute(
                f'create or replace table {published}."{table}" as '
                f'select * from {build}."{table}"'
            )
        published = [f"{published}.{table}" for _, published, table in plan]
        if can_snapshot(published):
            if history_months is None:
                history_months = Settings.from_env().published_history_months
            snapshot_publication(con, keep_months=history_months)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return [f"{published}.{table}" for _, published, table in plan]
