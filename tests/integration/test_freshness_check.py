"""The caseload freshness asset check, run as Dagster runs it, on empty and loaded warehouses."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from orchestration.core.warehouse import connect, ensure_schema
from orchestration.ingestion.checks import caseload_arrived_within_35_days

pytestmark = pytest.mark.integration


def warehouse(tmp_path, loaded_at: dt.datetime | None) -> DuckDBResource:
    path = tmp_path / "warehouse.duckdb"
    con = connect(path)
    ensure_schema(con)
    if loaded_at is not None:
        con.execute(
            "insert into audit.loads (load_id, file_name, extract, as_at_date, sha256, status, "
            "loaded_at) values (1, 'caseload_2026-10-31.csv', 'caseload', date '2026-10-31', "
            "'x', 'LOADED', ?)",
            [loaded_at],
        )
    con.close()
    return DuckDBResource(database=str(path))


def test_warns_without_failing_the_run_when_no_caseload_was_ever_loaded(tmp_path):
    result = caseload_arrived_within_35_days(duckdb=warehouse(tmp_path, None))
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["days_since_arrival"] == dg.MetadataValue.text("never loaded")


def test_passes_for_a_caseload_that_arrived_today(tmp_path):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = caseload_arrived_within_35_days(duckdb=warehouse(tmp_path, now))
    assert result.passed
    assert result.metadata["last_snapshot_date"] == dg.MetadataValue.text("2026-10-31")
