"""A refresh builds the incremental models by period, and whole when their code changed.

A refresh records the code every incremental model was built with (audit.incremental_builds,
orchestration/transformation/incremental.py). With the same code, the next refresh rebuilds only
the periods new loads can change; with other code, it runs `dbt build --full-refresh`, so no row
built by the old code stays.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.automation.refresh import RefreshFailed, run_refresh
from orchestration.transformation import incremental
from orchestration.transformation.assets import DBT_PROJECT
from tests.conftest import icw_environment

pytestmark = pytest.mark.integration

MODEL = "intermediate.int_eligible_persons_quarterly"


def manifest() -> dict:
    return json.loads(Path(DBT_PROJECT.manifest_path).read_text())


def quarters(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select count(distinct financial_quarter) from {MODEL}").fetchone()[0]


def test_a_refresh_records_the_code_its_incremental_models_were_built_with(refreshed_home):
    with duckdb.connect(str(refreshed_home / "warehouse.duckdb"), read_only=True) as con:
        recorded = dict(con.execute(
            "select model, fingerprint from audit.incremental_builds").fetchall())
        assert incremental.stale_models(con, manifest()) == []
    assert recorded == incremental.incremental_models(manifest())


@pytest.mark.slow
def test_changed_code_rebuilds_every_period_and_the_same_code_only_what_landed(
    refreshed_home, tmp_path
):
    home = tmp_path / "home"
    shutil.copytree(refreshed_home, home)
    warehouse = home / "warehouse.duckdb"
    before = quarters(warehouse)
    # a quarter's rows gone, as if the old code had built it otherwise
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"delete from {MODEL} where financial_quarter = "
                    f"(select min(financial_quarter) from {MODEL})")

    with icw_environment(home) as settings, pytest.raises(RefreshFailed) as failed:
        run_refresh(settings, with_report=False, log=lambda _: None)
    # nothing landed and the code is the same: no quarter to rebuild, the gap stays; the
    # eligible-caseload counts, also incremental, kept the quarter's persons, and the blocking
    # tests that hold the marts to each other stop the publish
    assert quarters(warehouse) == before - 1
    assert "blocking dbt tests failed" in str(failed.value)

    with duckdb.connect(str(warehouse)) as con:
        con.execute("update audit.incremental_builds set fingerprint = 'built by other code'")
    with icw_environment(home) as settings:
        run_refresh(settings, with_report=False, log=lambda _: None)
    assert quarters(warehouse) == before  # and the refresh, with its blocking tests, passed
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert incremental.stale_models(con, manifest()) == []
