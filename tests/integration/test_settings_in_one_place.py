"""Settings are read once and handed on, never written back to the environment (issue 11).

A refresh given its locations explicitly (as `icw --warehouse`, a test or a scheduler does) must
build exactly there, even when no ICW_* variable is set: dbt gets the warehouse from the run's
settings, not from an environment the refresh used to rewrite. The warehouse here has a name
other than warehouse.duckdb, as a restored backup would.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from orchestration.core.settings import Settings
from tests.conftest import land

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ICW_VARIABLES = ("ICW_HOME", "ICW_LANDING_DIR", "ICW_WAREHOUSE", "DAGSTER_HOME")


def settings_in_environment(tmp_path: Path) -> dict[str, str]:
    """The variables ICW, Dagster and dbt read, and any naming the test's folders.

    (Libraries set variables of their own on import, Great Expectations' SF_PARTNER for one.)
    """
    return {k: v for k, v in os.environ.items()
            if k.startswith(("ICW_", "DAGSTER_", "DBT_")) or str(tmp_path) in v}


def test_the_command_lines_locations_are_not_exported(monkeypatch, tmp_path: Path):
    from orchestration.cli import _parser, _settings

    for name in ICW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    before = settings_in_environment(tmp_path)
    args = _parser().parse_args(["refresh", "--landing", str(tmp_path / "in"),
                                 "--warehouse", str(tmp_path / "icw-2026-11.duckdb")])
    settings = _settings(args)
    assert settings.warehouse == tmp_path / "icw-2026-11.duckdb"
    assert settings.landing_dir == tmp_path / "in"
    assert settings_in_environment(tmp_path) == before


def test_a_refresh_builds_where_its_settings_say_and_leaves_the_environment(
    monkeypatch, tmp_path: Path, small_extracts: Path
):
    from orchestration.automation.refresh import run_refresh

    for name in ICW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env(home=tmp_path / "home", landing=tmp_path / "delivery",
                                 warehouse=tmp_path / "backups" / "icw-2026-11.duckdb")
    land(small_extracts, settings.landing_dir)
    before = settings_in_environment(tmp_path)

    summary = run_refresh(settings, with_report=False, log=lambda _: None)

    assert settings_in_environment(tmp_path) == before
    assert summary.rows_loaded > 0
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        published = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
        loaded = con.execute("select sum(rows_loaded) from audit.loads").fetchone()[0]
    finally:
        con.close()
    assert published >= 8  # dbt built into this file: publish copies from its marts_build
    assert loaded == summary.rows_loaded
    assert (settings.dagster_home / "dagster.yaml").is_file()
