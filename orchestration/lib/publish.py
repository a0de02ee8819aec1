"""Write, audit, publish: copy the audited build of the marts into `marts` in one transaction.

dbt builds the published tables into schema `marts_build` and runs its tests there. Only a
build whose blocking tests all passed is published, so `marts` always holds the last good
build and readers never see a half-built or failing one.
"""

from __future__ import annotations

import duckdb

BUILD_SCHEMA = "marts_build"
PUBLISHED_SCHEMA = "marts"


def publish_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Replace every table of `marts` by its audited build; return the table names."""
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
            [BUILD_SCHEMA],
        ).fetchall()
    ]
    if not tables:
        raise RuntimeError(f"nothing to publish: schema {BUILD_SCHEMA} has no tables")
    con.begin()
    try:
        con.execute(f"create schema if not exists {PUBLISHED_SCHEMA}")
        for table in tables:
            con.execute(
                f"create or replace table {PUBLISHED_SCHEMA}.{table} as "
                f"select * from {BUILD_SCHEMA}.{table}"
            )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return tables
