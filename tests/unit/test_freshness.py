"""The caseload freshness warning fires after 35 days without an arrival, and not before."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from orchestration.core.warehouse import ensure_schema
from orchestration.ingestion.freshness import caseload_freshness

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_schema(con)
    return con


def arrive(con, extract: str, as_at: str, loaded_at: dt.datetime, status: str = "LOADED"):
    load_id = con.execute("select coalesce(max(load_id), 0) + 1 from audit.loads").fetchone()[0]
    con.execute(
        "insert into audit.loads (load_id, file_name, extract, as_at_date, sha256, status, "
        "loaded_at) values (?, ?, ?, ?, 'x', ?, ?)",
        [load_id, f"{extract}_{as_at}.csv", extract, as_at, status, loaded_at],
    )


def test_never_loaded_is_not_fresh(con):
    result = caseload_freshness(con, NOW)
    assert not result.is_fresh and "no caseload snapshot has ever been loaded" in result.describe()


def test_fresh_at_35_days_stale_after(con):
    arrive(con, "caseload", "2026-10-31", dt.datetime(2026, 10, 25, 12, 0))
    assert caseload_freshness(con, NOW).is_fresh  # exactly 35 days
    assert not caseload_freshness(con, NOW + dt.timedelta(hours=1)).is_fresh


def test_only_loaded_caseload_files_count(con):
    arrive(con, "caseload", "2026-09-30", dt.datetime(2026, 10, 1))
    arrive(con, "referrals", "2026-11-28", dt.datetime(2026, 11, 28))
    arrive(con, "caseload", "2026-10-31", dt.datetime(2026, 11, 28), status="REJECTED")
    result = caseload_freshness(con, NOW)
    assert not result.is_fresh
    assert str(result.last_snapshot_date) == "2026-09-30"
    assert "STALE" in result.describe()
