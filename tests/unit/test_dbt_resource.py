"""The dbt resource skips dagster-dbt's `dbt --version` process and in-process dbt adapter."""

from __future__ import annotations

from importlib.metadata import version

import dagster_dbt.core.resource

from orchestration.core.resources import DBT_PROJECT_DIR, IcwDbtCliResource, dbt_executable


def test_the_dbt_beside_this_python_is_not_asked_its_version(monkeypatch):
    def no_process(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_process)
    dbt = IcwDbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                            dbt_executable=dbt_executable())
    assert str(dbt._cli_version) == version("dbt-core")
    # no adapter in this process: row counts and column metadata are not asked for
    assert dbt._initialize_dbt_core_adapter([]) is None
