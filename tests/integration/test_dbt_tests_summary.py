"""The blocking dbt tests are one summary asset check; warn tests keep their own.

A refresh records one evaluation of `blocking_dbt_tests` rather than an event per test. When a
blocking test fails, nothing is published, the refresh fails naming the test, the summary
check's metadata names it, and `last_run.json` lists it under failed_checks. A warn-severity dbt
test still reaches the warnings under its own name.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from orchestration.core.warehouse import connect
from orchestration.transformation.assets import SUMMARY_CHECK_KEY
from tests.conftest import icw_environment

pytestmark = pytest.mark.integration

#: a blocking test on the staging model that a duplicated caseload row breaks
DUPLICATE_ROW_TEST = (
    "staging/stg_caseload:unique_combination_stg_caseload_snapshot_date__person_id"
)


def _summary_evaluations(home: Path) -> list:
    with icw_environment(home), dg.DagsterInstance.get() as instance:
        records = instance.event_log_storage.get_asset_check_execution_history(
            SUMMARY_CHECK_KEY, limit=5
        )
        return [r.event.dagster_event.event_specific_data for r in records if r.event]


def test_a_refresh_records_one_summary_of_the_blocking_tests(refreshed_home: Path):
    [evaluation] = _summary_evaluations(refreshed_home)
    assert evaluation.passed
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert metadata["tests"] > 100 and metadata["failed"] == 0
    last_run = json.loads((refreshed_home / "last_run.json").read_text())
    assert last_run["failed_checks"] == []
    with icw_environment(refreshed_home), dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs(limit=1)
        checks = [
            r for r in instance.get_records_for_run(run.run_id, limit=5000).records
            if r.event_log_entry.dagster_event is not None
            and r.event_log_entry.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
    # the summary, the warn-severity dbt tests and the Python checks: not one per dbt test
    assert len(checks) < 20


def test_a_warn_severity_dbt_test_still_reaches_the_warnings(refreshed_home: Path):
    last_run = json.loads((refreshed_home / "last_run.json").read_text())
    assert "marts/data_quality_issues:data_quality_issues_found" in last_run["warnings"]


def test_a_failing_blocking_test_stops_publication_and_is_named(
    refreshed_home: Path, tmp_path: Path
):
    from orchestration.automation.refresh import RefreshFailed, run_refresh

    home = tmp_path / "home"
    home.mkdir()
    warehouse = home / "warehouse.duckdb"
    shutil.copy(refreshed_home / "warehouse.duckdb", warehouse)
    con = connect(warehouse)
    try:
        # one caseload row twice: stg_caseload's unique_combination test fails
        con.execute("insert into raw.caseload select * from raw.caseload limit 1")
        con.execute("update marts.periods set period = period || ' (before)'")
        published_before = con.execute("select count(*) from marts.periods").fetchone()[0]
    finally:
        con.close()

    with icw_environment(home) as settings:
        with pytest.raises(RefreshFailed) as failed:
            run_refresh(settings, with_report=False, log=lambda _: None)
    assert DUPLICATE_ROW_TEST in str(failed.value)

    last_run = json.loads((home / "last_run.json").read_text())
    assert last_run["failed_checks"] == [DUPLICATE_ROW_TEST]
    assert DUPLICATE_ROW_TEST in last_run["failed"]

    [evaluation] = _summary_evaluations(home)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert metadata["failed_tests"] == [DUPLICATE_ROW_TEST]
    assert DUPLICATE_ROW_TEST in metadata["failures"]

    con = connect(warehouse, read_only=True)
    try:
        # nothing published: the published marts are the ones from before
        periods = con.execute(
            "select count(*), count(*) filter (where period like '% (before)') from marts.periods"
        ).fetchone()
    finally:
        con.close()
    assert periods == (published_before, published_before)
