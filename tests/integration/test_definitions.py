"""The Dagster code location loads, with the job, schedule and sensor users rely on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    from orchestration.core.settings import Settings
    from orchestration.definitions import build_definitions

    home = tmp_path_factory.mktemp("defs")
    return build_definitions(Settings.from_env({"ICW_HOME": str(home)}))


def test_refresh_job_covers_ingestion_dbt_publish_and_report(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/referrals", "raw/completions", "raw/caseload", "audit/loads"} <= keys
    assert {"marts/ldu_intervention_measures", "marts/published", "report/site"} <= keys
    job = defs.resolve_job_def("refresh")
    assert job.executor_def.name == "in_process"


def test_dbt_sources_are_the_ingestion_assets(defs):
    graph = defs.resolve_asset_graph()
    staging = graph.get(dg.AssetKey(["staging", "stg_referrals"]))
    assert dg.AssetKey(["raw", "referrals"]) in staging.parent_keys


def test_monthly_schedule_runs_in_london_time(defs):
    schedule = defs.resolve_schedule_def("monthly_refresh")
    assert schedule.execution_timezone == "Europe/London"
    assert schedule.cron_schedule == "0 7 6 * *"


def test_landing_sensor_requests_a_run_only_for_new_files(tmp_path):
    from orchestration.automation.jobs import landing_sensor
    from orchestration.core.resources import IcwSettings
    from orchestration.core.settings import Settings

    landing = tmp_path / "landing"
    landing.mkdir()
    # the sensor watches the folder of the settings it was given, not the environment's
    resources = {"icw_settings": IcwSettings.of(Settings.from_env({}, home=tmp_path))}
    context = dg.build_sensor_context(resources=resources)
    assert isinstance(landing_sensor(context), dg.SkipReason)
    (landing / "caseload_2024-05-31.csv").write_text("snapshot_date\n")
    first = landing_sensor(context)
    assert isinstance(first, dg.RunRequest)
    context = dg.build_sensor_context(cursor=context.cursor, resources=resources)
    assert isinstance(landing_sensor(context), dg.SkipReason)


def test_dagster_definitions_validate_passes(tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate",
         "-m", "orchestration.definitions"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "ICW_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
