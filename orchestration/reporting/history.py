"""Keep what each publish handed to readers, so the next report can say what changed.

Each publish writes one row of `published_history.publications` and a copy of the small
published tables below, each row with its publication_id, in the publish's own transaction
(orchestration/transformation/publish.py): a publish and its snapshot are one, and a stop or a
failure part-way keeps neither. `reporting.what_changed` compares a build with the latest
publication of an earlier reporting month. Snapshots of reporting months older than
`keep_months` (ICW_PUBLISHED_HISTORY_MONTHS, default 24) are deleted in the same transaction.
docs/operations.md ("What changed") says why at publish and not after the report is installed.
"""

from __future__ import annotations

import datetime as dt

import duckdb

HISTORY_SCHEMA = "published_history"

#: the tables copied at each publish, as `schema.table` in the published schemas
SNAPSHOT_TABLES = (
    "reporting.current_findings",
    "marts.ldu_intervention_measures",
    "marts.division_intervention_measures",
    "reporting.ldu_position",
    "reporting.division_headline",
)

#: where the snapshot reads the reporting month
CURRENT_PERIODS = "reporting.current_periods"


def can_snapshot(published: list[str]) -> bool:
    """True when a publish includes every table a snapshot copies (a full build does)."""
    return set(SNAPSHOT_TABLES) | {CURRENT_PERIODS} <= set(published)


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def _months_before(label: str, months: int) -> str:
    """`2026-03`, 24 -> `2024-03`: the earliest reporting month kept."""
    year, month = (int(part) for part in label.split("-"))
    index = year * 12 + (month - 1) - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def snapshot_publication(
    con: duckdb.DuckDBPyConnection,
    keep_months: int,
    published_at: dt.datetime | None = None,
) -> int:
    """Record the tables just published as one publication; return its publication_id.

    Runs inside the caller's transaction, after the published tables were replaced, and
    reads them there. The history tables are created, shaped like the tables they copy, when
    they are not there; a column the published table gained later is left out of the copy
    until the history table is given it (a column is never dropped from history).
    """
    published_at = published_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    row = con.execute(
        f"select max(period) from {CURRENT_PERIODS} where period_type = 'MONTH'"
    ).fetchone()
    month = row[0] if row else None
    if not month:
        raise RuntimeError(f"cannot record the publication: {CURRENT_PERIODS} has no MONTH row")
    has_loads = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'audit' and table_name = 'loads'"
    ).fetchone()[0]
    data_as_at = (
        con.execute("select max(as_at_date) from audit.loads where status = 'LOADED'").fetchone()[0]
        if has_loads
        else None
    )
    con.execute(f"create schema if not exists {HISTORY_SCHEMA}")
    con.execute(
        f"""
        create table if not exists {HISTORY_SCHEMA}.publications (
            publication_id bigint not null,
            reporting_month varchar not null,
            data_as_at date,
            published_at timestamp not null
        )
        """
    )
    (publication_id,) = con.execute(
        f"select coalesce(max(publication_id), 0) + 1 from {HISTORY_SCHEMA}.publications"
    ).fetchone()
    con.execute(
        f"insert into {HISTORY_SCHEMA}.publications "
        "(publication_id, reporting_month, data_as_at, published_at) values (?, ?, ?, ?)",
        [publication_id, month, data_as_at, published_at],
    )
    for qualified in SNAPSHOT_TABLES:
        schema, table = qualified.split(".")
        con.execute(
            f'create table if not exists {HISTORY_SCHEMA}."{table}" as '
            f'select cast(null as bigint) as publication_id, copied.* from {schema}."{table}" '
            "as copied where 1 = 0"
        )
        source_columns = set(_columns(con, schema, table))
        kept = [c for c in _columns(con, HISTORY_SCHEMA, table) if c in source_columns]
        listed = ", ".join(f'"{c}"' for c in kept)
        con.execute(
            f'insert into {HISTORY_SCHEMA}."{table}" (publication_id, {listed}) '
            f'select ?, {listed} from {schema}."{table}"',
            [publication_id],
        )
    prune(con, oldest_kept=_months_before(month, keep_months))
    return int(publication_id)


def prune(con: duckdb.DuckDBPyConnection, oldest_kept: str) -> None:
    """Delete the publications of reporting months before `oldest_kept`, and their copies."""
    expired = (
        f"select publication_id from {HISTORY_SCHEMA}.publications "
        "where reporting_month < ?"
    )
    for qualified in SNAPSHOT_TABLES:
        table = qualified.split(".")[1]
        con.execute(
            f'delete from {HISTORY_SCHEMA}."{table}" where publication_id in ({expired})',
            [oldest_kept],
        )
    con.execute(
        f"delete from {HISTORY_SCHEMA}.publications where reporting_month < ?", [oldest_kept]
    )
