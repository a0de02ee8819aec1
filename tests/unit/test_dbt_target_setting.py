"""ICW_DBT_TARGET and the number settings are checked when read: a wrong value is refused
by name."""

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


@pytest.mark.parametrize("name", ["ICW_PUBLISHED_HISTORY_MONTHS", "ICW_SMTP_PORT"])
@pytest.mark.parametrize("value", ["twelve", "0", "-3", "2.5", "\u00b2"])
def test_a_number_setting_that_is_not_one_names_itself(tmp_path: Path, name: str, value: str):
    with pytest.raises(ValueError, match=f"{name} must be a whole number"):
        Settings.from_env({"ICW_HOME": str(tmp_path), name: value})


def test_the_history_is_kept_as_long_as_the_setting_says(tmp_path: Path):
    env = {"ICW_HOME": str(tmp_path), "ICW_PUBLISHED_HISTORY_MONTHS": "36"}
    assert Settings.from_env(env).published_history_months == 36
    assert Settings.from_env({"ICW_HOME": str(tmp_path)}).published_history_months == 24
