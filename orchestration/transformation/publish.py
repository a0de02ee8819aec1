"""Write, audit, publish: copy the audited builds into the published schemas in one transaction.

dbt builds the published tables into build schemas (`marts_build`, `reporting_build`) and runs
its tests there. Only a build whose blocking tests all passed is published, so `marts` and
`reporting` always hold the last good build and readers never see a half-built or failing one.
"""

from __future__ import annotations

import duckdb

#: build schema -> published schema
PUBLISHED_SCHEMAS = {"marts_build": "marts", "reporting_build": "reporting"}


def publish_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Replace every published table by its audited build; return `schema.table` names."""
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
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return [f"{published}.{table}" for _, published, table in plan]
