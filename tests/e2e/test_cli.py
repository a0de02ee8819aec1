"""The icw command as a user meets it: help, clear errors, generation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ICW = str(Path(sys.executable).parent / "icw")


def icw(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ICW, *args], capture_output=True, text=True, timeout=300, env=env)


def test_help_lists_the_commands_and_the_environment():
    result = icw("--help")
    assert result.returncode == 0
    for word in ("generate", "refresh", "report", "demo", "ICW_HOME", "ICW_PSEUDONYMISATION_KEY"):
        assert word in result.stdout


def test_refresh_help_documents_its_options():
    result = icw("refresh", "--help")
    assert result.returncode == 0
    for option in ("--landing", "--warehouse", "--no-report", "--wait"):
        assert option in result.stdout


def test_bad_generator_arguments_get_one_clear_line(tmp_path: Path):
    result = icw("generate", "--out", str(tmp_path), "--people", "5")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "icw generate: people must be at least 100 (got 5); the model needs a caseload"]
    result = icw("generate", "--out", str(tmp_path), "--start", "2023-13")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_generate_writes_the_contracts_files_and_a_summary(tmp_path: Path):
    result = icw("generate", "--out", str(tmp_path), "--people", "300", "--months", "2")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["caseload_2023-10-31.csv", "caseload_2023-11-30.csv",
                     "completions_2023-10-31.csv", "completions_2023-11-30.csv",
                     "ground_truth.json", "referrals_2023-10-31.csv",
                     "referrals_2023-11-30.csv"]
    assert "Wrote 6 files" in result.stdout


def test_report_before_any_refresh_fails_with_one_line_saying_what_is_missing(tmp_path: Path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ICW_", "DAGSTER_HOME"))}
    env["ICW_HOME"] = str(tmp_path / "home")
    result = icw("report", env=env)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("icw report: failed: step 'report__site' failed: the warehouse lacks")
    assert "marts" in last and "Traceback" not in last


def test_a_bad_memory_limit_is_one_line_naming_the_variable_and_loads_nothing(tmp_path: Path):
    landing = tmp_path / "landing"
    landing.mkdir()
    extract = landing / "caseload_2024-04-30.csv"
    extract.write_text("crn\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICW_")}
    env.update(ICW_HOME=str(tmp_path), ICW_DUCKDB_MEMORY_LIMIT="lots")
    result = icw("refresh", "--no-report", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "icw refresh: ICW_DUCKDB_MEMORY_LIMIT='lots' is not a size DuckDB accepts")
    assert "Traceback" not in result.stderr
    assert extract.exists() and not (tmp_path / "warehouse.duckdb").exists()
