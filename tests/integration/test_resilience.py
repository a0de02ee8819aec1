"""Killed and concurrent runs end exactly as an uninterrupted run would (docs/contract.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import land

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
#: The loader as `icw refresh` runs it. With KILL_AT set ("report:N" or "write:N") it holds
#: still at that point, for the test to SIGKILL it there: "report:N" just after it reports its
#: N-th file (that file's extract committed, files after it perhaps committed but not moved),
#: "write:N" just after it writes the N-th audit.loads row, inside an uncommitted transaction.
#: Holding still makes the point exact: a loader left running while the test reads its output
#: raced ahead, and on a busy machine finished before a later kill point (a flaky test).
LOAD = """
import os, time
from orchestration.ingestion import load_audit
from orchestration.ingestion.loader import ingest
from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect

where, _, count = os.environ.get("KILL_AT", "").partition(":")
seen = {"write": 0}

def hold(why):
    print(f"holding: {why}", flush=True)
    time.sleep(600)  # until the test's SIGKILL

def log(line):
    print(line, flush=True)
    if where == "report" and line.startswith(f"[{count}/"):
        hold(line)

write_load = load_audit.write_load

def write_then_hold(*args, **kwargs):
    write_load(*args, **kwargs)
    seen["write"] += 1
    if where == "write" and seen["write"] == int(count):
        hold(f"audit row {count} written, not committed")

load_audit.write_load = write_then_hold
settings = Settings.from_env()
ingest(connect(settings.warehouse), settings, log=log)
"""


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ICW_", "DAGSTER_HOME"))}
    env.update(ICW_HOME=str(home), PYTHONPATH=str(REPO))
    return env


def state(home: Path) -> dict[str, list]:
    """Everything a run leaves behind, without run-specific ids, times and paths."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        out = {
            table: con.execute(f"select * exclude (load_id) from {table} order by all").fetchall()
            for table in ("raw.referrals", "raw.completions", "raw.caseload",
                          "audit.quarantined_rows")
        }
        out["audit.loads"] = con.execute(
            """
            select file_name, status, sha256, rows_read, rows_loaded, rows_quarantined, message,
                replace(stored_as, ?, '')
            from audit.loads order by all
            """,
            [str(home)],
        ).fetchall()
    finally:
        con.close()
    out["files"] = sorted(
        str(p.relative_to(home))
        for folder in ("landing", "archive", "quarantine")
        for p in (home / folder).rglob("*") if p.is_file()
    )
    return out


def load_until(home: Path, kill_at: str | None) -> int:
    """Run the loader in a subprocess; SIGKILL it where `kill_at` says (see LOAD).

    A re-run numbers the files left in the landing folder from 1 again, and counts its own
    audit rows. Returns the loader's exit code: -SIGKILL when it was killed there, 0 when it
    ended without reaching that point.
    """
    env = env_for(home)
    if kill_at is not None:
        env["KILL_AT"] = kill_at
    proc = subprocess.Popen([sys.executable, "-c", LOAD], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("holding: "):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=300)
    return proc.returncode


@pytest.fixture(scope="module")
def reference(tmp_path_factory, small_extracts: Path) -> dict[str, list]:
    home = tmp_path_factory.mktemp("uninterrupted")
    land(small_extracts, home / "landing")
    assert load_until(home, None) == 0
    return state(home)


@pytest.mark.parametrize(
    "kill_points",
    [
        ("report:1",),  # the first file moved, the rest of its extract committed, not moved
        ("report:5", "report:12"),  # twice in a row, the second in the re-run
        ("write:3",),  # inside the first extract's transaction: nothing of it committed
        ("write:20", "report:3"),  # inside a later extract's, then as the re-run moves files
        ("report:30", "report:8"),  # late in the last extract, then late in the re-run
    ],
)
def test_load_killed_at_several_points_then_rerun_ends_as_uninterrupted(
    tmp_path: Path, small_extracts: Path, reference: dict, kill_points: tuple[str, ...]
):
    home = tmp_path / "killed"
    land(small_extracts, home / "landing")
    for point in kill_points:
        assert load_until(home, point) == -signal.SIGKILL, point
    assert load_until(home, None) == 0
    assert state(home) == reference


def icw(home: Path, *args: str, log: Path | None = None) -> subprocess.Popen:
    """Start icw; with log, its output goes to files (unread pipes would fill and block it)."""
    if log is None:
        return subprocess.Popen([str(Path(sys.executable).parent / "icw"), *args],
                                env=env_for(home), cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.Popen([str(Path(sys.executable).parent / "icw"), *args],
                            env=env_for(home), cwd=REPO,
                            stdout=log.with_suffix(".out").open("w"),
                            stderr=log.with_suffix(".err").open("w"), text=True)


def test_two_refreshes_started_together_one_runs_one_is_told_who_holds_it(
    tmp_path: Path, small_extracts: Path, reference: dict, refreshed_home: Path
):
    home = tmp_path / "concurrent"
    land(small_extracts, home / "landing")
    logs = {name: tmp_path / name for name in ("first", "second")}
    runs = {name: icw(home, "refresh", "--no-report", log=log) for name, log in logs.items()}
    codes = {name: run.wait(timeout=900) for name, run in runs.items()}
    assert sorted(codes.values()) == [0, 75], codes
    ok = next(name for name, code in codes.items() if code == 0)
    busy = next(name for name, code in codes.items() if code == 75)
    message = logs[busy].with_suffix(".err").read_text().strip().splitlines()[-1]
    assert f"pid {runs[ok].pid} since" in message and "--wait" in message
    assert "Refresh complete" in logs[ok].with_suffix(".out").read_text()
    assert state(home) == reference
    # and a refresh killed while its dbt has the warehouse open is finished by the next one,
    # started at once: it never meets the leftover dbt (issue 10, item 3), marts as uninterrupted
    from orchestration.transformation import dbt_guard

    dbt_lock = dbt_guard.lock_path(home)
    run = icw(home, "refresh", "--no-report", log=tmp_path / "killed")
    while "(dbt, started by" not in (dbt_lock.read_text() if dbt_lock.exists() else ""):
        assert run.poll() is None, (tmp_path / "killed.err").read_text()[-2000:]
        time.sleep(0.05)
    dbt_pid = dbt_guard.read_holder(dbt_lock).pid
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    rerun = icw(home, "refresh", "--no-report", log=tmp_path / "rerun")
    deadline = time.monotonic() + 10  # the kernel kills it with its parent (PR_SET_PDEATHSIG)
    while dbt_guard._alive(dbt_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not dbt_guard._alive(dbt_pid), "the killed refresh's dbt is still running"
    assert rerun.wait(timeout=900) == 0, (tmp_path / "rerun.err").read_text()[-2000:]
    assert marts(home) == marts(refreshed_home)


def marts(home: Path) -> dict[str, list]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()]
        assert "ldu_intervention_measures" in tables
        return {t: con.execute(f"select * from marts.{t} order by all").fetchall()
                for t in tables}
    finally:
        con.close()
