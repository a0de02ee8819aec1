"""Each publish records itself in published_history, and old reporting months are pruned."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.reporting.history import SNAPSHOT_TABLES, snapshot_publication

pytestmark = pytest.mark.unit


def _publish(con: duckdb.DuckDBPyConnection, month: str, rows: int) -> None:
    """Stand-ins for the published tables, as a publish leaves them for `month`."""
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists reporting")
    con.execute(
        "create or replace table reporting.current_periods as "
        "select 'MONTH' as period_type, ? as period", [month])
    for qualified in SNAPSHOT_TABLES:
        con.execute(
            f"create or replace table {qualified} as "
            "select range as n, 'WM01' as ldu_code from range(?)", [rows])


def test_a_publication_copies_each_table_with_its_id_and_old_months_are_pruned():
    con = duckdb.connect()
    ids = []
    for month, rows in (("2025-01", 2), ("2025-02", 3), ("2025-03", 4), ("2025-03", 5)):
        _publish(con, month, rows)
        con.begin()
        ids.append(snapshot_publication(con, keep_months=1))
        con.commit()

    assert ids == [1, 2, 3, 4]
    # keep one month back from 2025-03: 2025-02 and both 2025-03 publications stay
    assert con.execute(
        "select publication_id, reporting_month from published_history.publications order by 1"
    ).fetchall() == [(2, "2025-02"), (3, "2025-03"), (4, "2025-03")]
    for qualified in SNAPSHOT_TABLES:
        table = qualified.split(".")[1]
        assert con.execute(
            f"select publication_id, count(*) from published_history.{table} group by 1 order by 1"
        ).fetchall() == [(2, 3), (3, 4), (4, 5)]


def test_a_column_added_to_a_published_table_does_not_stop_the_snapshot():
    con = duckdb.connect()
    _publish(con, "2025-01", 1)
    snapshot_publication(con, keep_months=24)
    con.execute("alter table reporting.ldu_position add column new_measure double")
    snapshot_publication(con, keep_months=24)
    assert con.execute(
        "select count(*) from published_history.ldu_position where publication_id = 2"
    ).fetchone() == (1,)
