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
    for word in ("generate", "refresh", "report", "demo", "rotate-key", "ICW_HOME",
                 "ICW_PSEUDONYMISATION_KEY"):
        assert word in result.stdout


def test_refresh_help_documents_its_options():
    result = icw("refresh", "--help")
    assert result.returncode == 0
    for option in ("--landing", "--warehouse", "--no-report", "--wait"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("--people", "-5", "must be at least 100 (got -5); the model needs a caseload"),
        ("--people", "5", "must be at least 100 (got 5); the model needs a caseload"),
        ("--people", "many", "must be a whole number (got 'many')"),
        ("--months", "0", "must be at least 1 (got 0)"),
        ("--start", "2023-13", "must be a month as YYYY-MM (got '2023-13')"),
        ("--seed", "-1", "must be at least 0 (got -1)"),
    ],
)
def test_bad_generator_arguments_are_refused_before_anything_is_said_or_written(
    tmp_path: Path, option: str, value: str, error: str
):
    out = tmp_path / "out"
    result = icw("generate", "--out", str(out), option, value)
    assert result.returncode == 2
    assert result.stdout == ""  # no "Generating demo extracts ..." first
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("usage: icw generate")
    assert lines[-1] == f"icw generate: error: argument {option}: {error}"
    assert not out.exists()


def test_demo_validates_its_arguments_before_any_work(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ICW_", "DAGSTER_HOME"))}
    env["ICW_HOME"] = str(tmp_path / "home")
    result = icw("demo", "--people", "-5", env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("icw demo: error: argument --people")
    assert not (tmp_path / "home").exists()


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
    assert "marts" in last
    # an anticipated condition: no Python traceback anywhere (the Dagster UI keeps it)
    for trace in ("Traceback", "Stack Trace", 'File "'):
        assert trace not in result.stderr + result.stdout


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


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ICW_", "DAGSTER_HOME"))}
    env.update(ICW_HOME=str(home), **extra)
    return env


@pytest.mark.parametrize("how", ["--landing", "ICW_LANDING_DIR"])
def test_a_landing_folder_named_but_missing_is_an_error_not_an_empty_delivery(
    tmp_path: Path, how: str
):
    mistyped = tmp_path / "landnig"
    args = ("refresh", "--no-report") + (("--landing", str(mistyped)) if how == "--landing" else ())
    env = clean_env(tmp_path / "home")
    if how == "ICW_LANDING_DIR":
        env["ICW_LANDING_DIR"] = str(mistyped)
    result = icw(*args, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"icw refresh: the landing folder {mistyped} does not exist; correct --landing or "
        "ICW_LANDING_DIR, or create the folder first"]
    assert "Refresh complete" not in result.stdout
    assert not mistyped.exists() and not (tmp_path / "home" / "warehouse.duckdb").exists()


KEY_A, KEY_B = "secret-key-A-0f9c", "secret-key-B-77e1"


@pytest.fixture
def keyed_home(tmp_path: Path) -> tuple[Path, Path]:
    """An ICW_HOME whose warehouse was built with KEY_A, and an extract waiting in its landing."""
    from orchestration.core.warehouse import connect, ensure_schema
    from orchestration.ingestion.key_fingerprint import FIRST_LOAD, record_fingerprint

    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    con = connect(home / "warehouse.duckdb")
    ensure_schema(con)
    record_fingerprint(con, KEY_A, FIRST_LOAD)
    con.close()
    landed = home / "landing" / "caseload_2024-04-30.csv"
    landed.write_text("snapshot_date,crn\n2024-04-30,A000001\n")
    return home, landed


def landing_state(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (home / "landing").iterdir()}


@pytest.mark.parametrize("key", [KEY_B, None], ids=["another key", "no key (the demo key)"])
def test_a_refresh_with_another_key_is_refused_before_reading_any_file(keyed_home, key):
    home, landed = keyed_home
    before = landing_state(home)
    warehouse = (home / "warehouse.duckdb").read_bytes()
    env = clean_env(home, **({"ICW_PSEUDONYMISATION_KEY": key} if key else {}))
    result = icw("refresh", "--no-report", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("icw refresh: ICW_PSEUDONYMISATION_KEY ")
    assert "nothing was read or loaded" in lines[0]
    for secret in (KEY_A, KEY_B, "icw-demo-key"):
        assert secret not in result.stdout + result.stderr
    assert landing_state(home) == before and landed.exists()
    assert (home / "warehouse.duckdb").read_bytes() == warehouse
    assert not (home / "archive").exists() or not any((home / "archive").iterdir())


def test_demo_with_another_key_is_refused_before_generating(keyed_home):
    home, _ = keyed_home
    before = landing_state(home)
    result = icw("demo", "--people", "100", "--months", "1", "--no-report",
                 env=clean_env(home, ICW_PSEUDONYMISATION_KEY=KEY_B))
    assert result.returncode == 2 and result.stdout == ""
    assert landing_state(home) == before and not (home / "demo").exists()


def test_rotate_key_refuses_without_a_key_and_names_the_backup_in_its_help(keyed_home):
    home, _ = keyed_home
    result = icw("rotate-key", env=clean_env(home))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "icw rotate-key: ICW_PSEUDONYMISATION_KEY is not set: rotate-key rebuilds the warehouse "
        "with the key in ICW_PSEUDONYMISATION_KEY (never the public demo key); set it to the new "
        "key"]
    result = icw("rotate-key", env=clean_env(home, ICW_PSEUDONYMISATION_KEY=KEY_A))
    assert result.returncode == 0
    assert "already built with ICW_PSEUDONYMISATION_KEY; nothing to do" in result.stdout
    help_text = icw("rotate-key", "--help").stdout
    assert "before-rotation" in help_text and "OLD key" in help_text


def test_demo_into_a_named_landing_folder_that_is_missing_generates_nothing(tmp_path: Path):
    result = icw("demo", "--landing", str(tmp_path / "missing"), "--people", "100",
                 "--months", "1", "--no-report", env=clean_env(tmp_path / "home"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"icw demo: the landing folder {tmp_path / 'missing'} does not exist")
    assert not (tmp_path / "missing").exists() and not (tmp_path / "home" / "demo").exists()
