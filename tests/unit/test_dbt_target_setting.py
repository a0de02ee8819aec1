"""ICW_DBT_TARGET names a target of profiles.yml; a mistyped one is refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestration.core.settings import DBT_TARGETS, Settings

PROFILES = Path(__file__).resolve().parents[2] / "dbt_project" / "profiles.yml"


def test_the_default_is_the_duckdb_warehouse(tmp_path: Path):
    assert Settings.from_env({"ICW_HOME": str(tmp_path)}).dbt_target == "warehouse"


def test_spark_is_accepted(tmp_path: Path):
    env = {"ICW_HOME": str(tmp_path), "ICW_DBT_TARGET": "spark"}
    assert Settings.from_env(env).dbt_target == "spark"


@pytest.mark.parametrize("name", ["duckdb", "Spark", "athena"])
def test_another_name_is_refused_with_the_choices(tmp_path: Path, name: str):
    with pytest.raises(ValueError, match="'warehouse' .* or 'spark'"):
        Settings.from_env({"ICW_HOME": str(tmp_path), "ICW_DBT_TARGET": name})


def test_every_accepted_target_is_in_the_profile():
    outputs = yaml.safe_load(PROFILES.read_text())["icw"]["outputs"]
    assert set(DBT_TARGETS) <= set(outputs)
