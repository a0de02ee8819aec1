"""Stop signals are seen whoever handles them, and a leftover dbt never meets the next refresh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.core import stopping
from orchestration.core.lock import warehouse_lock
from orchestration.transformation import dbt_guard

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


class Swallowed(BaseException):
    """What Dagster's handler raises; here it is caught, as a library's broad except would."""


def raise_swallowed(_signum, _frame):
    raise Swallowed()


def test_a_stop_signal_is_recorded_even_when_another_handler_swallows_its_exception():
    called: list[int] = []
    with stopping.raise_on_stop_signals(), stopping.on_stop(called.append):
        previous = signal.signal(signal.SIGTERM, raise_swallowed)
        try:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # interrupted at once by the handler
            except Swallowed:
                pass
            assert stopping.requested() == signal.SIGTERM
            deadline = time.monotonic() + 5
            while not called and time.monotonic() < deadline:
                time.sleep(0.01)
            assert called == [signal.SIGTERM]  # the watcher thread ran the callback
        finally:
            signal.signal(signal.SIGTERM, previous)
    with stopping.watch():  # a new watch starts with no request
        assert stopping.requested() is None


def test_outside_a_run_sigint_raises_stop_requested_once_with_the_shells_status():
    with pytest.raises(stopping.StopRequested) as raised, stopping.raise_on_stop_signals():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    assert raised.value.signum == signal.SIGINT
    assert stopping.exit_code(signal.SIGINT) == 130
    assert stopping.exit_code(signal.SIGTERM) == 143


def _python(code: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, text=True,
                            cwd=REPO, **popen)


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not dbt_guard._alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_a_dbt_child_dies_with_the_process_that_started_it(tmp_path: Path):
    """PR_SET_PDEATHSIG, asked for by a thread that lives as long as the child."""
    parent = _python(
        f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", '''
        import os, threading, time
        from orchestration.transformation import dbt_guard
        threading.Thread(target=dbt_guard.die_with_parent, args=(os.getppid(),)).start()
        time.sleep(0.5)  # the thread that asked has ended long before the parent dies
        open({str(tmp_path / "ready")!r}, "w").close()
        time.sleep(600)
        '''])
        print(child.pid, flush=True)
        time.sleep(600)
        """,
        stdout=subprocess.PIPE,
    )
    child = int(parent.stdout.readline())
    while not (tmp_path / "ready").exists():
        time.sleep(0.02)
    parent.kill()
    parent.wait()
    assert _wait_gone(child, 5), "the child outlived its parent"


def test_a_dbt_whose_parent_has_gone_refuses_to_start():
    child = _python(
        """
        from orchestration.transformation import dbt_guard
        try:
            dbt_guard.die_with_parent(999999999)
        except dbt_guard.ParentGone as exc:
            print(exc)
        """,
        stdout=subprocess.PIPE,
    )
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    assert "pid 999999999) has ended; this dbt will not touch the warehouse" in out


LEFTOVER = """
import os, sys, duckdb
from pathlib import Path
from orchestration.transformation import dbt_guard
home = Path(sys.argv[1])
con = duckdb.connect(str(home / "warehouse.duckdb"))  # a writer, as dbt is
con.execute("create table if not exists t as select 1 as x")
dbt_guard.hold_for_life(home / "dbt.lock")
if sys.argv[2] == "orphan":  # as if started by a refresh that has been killed since
    text = (home / "dbt.lock").read_text().replace(f"by pid {os.getppid()}", "by pid 999999999")
    (home / "dbt.lock").write_text(text)
print("holding", flush=True)
sys.stdin.read()  # until the test closes stdin (or the process is killed)
"""


def _leftover(home: Path, kind: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", LEFTOVER, str(home), kind],
                            env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_the_next_refresh_stops_a_leftover_dbt_of_a_killed_refresh_and_then_writes(tmp_path):
    """The orphan holds the warehouse open for writing; the lock is granted only once it ended."""
    leftover = _leftover(tmp_path, "orphan")
    try:
        # the orphan's argv is python's, not dbt's: let it pass for dbt, as it would be
        original = dbt_guard._is_dbt
        dbt_guard._is_dbt = lambda pid: pid == leftover.pid
        lines: list[str] = []
        try:
            with warehouse_lock(tmp_path / "refresh.lock", log=lines.append):
                assert leftover.poll() == -signal.SIGKILL
                duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()  # no DuckDB lock
        finally:
            dbt_guard._is_dbt = original
        assert len(lines) == 1 and "left by a refresh that was killed" in lines[0]
    finally:
        if leftover.poll() is None:
            leftover.kill()


def test_the_next_refresh_waits_for_a_dbt_run_by_hand_and_never_fails_on_the_lock(tmp_path):
    leftover = _leftover(tmp_path, "by-hand")
    lines: list[str] = []

    def finish_when_told(line: str) -> None:
        lines.append(line)
        leftover.stdin.close()  # the analyst's dbt finishes

    try:
        with warehouse_lock(tmp_path / "refresh.lock", log=finish_when_told):
            assert leftover.wait(timeout=10) == 0
            duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
        assert len(lines) == 1 and "run outside this refresh" in lines[0]
    finally:
        if leftover.poll() is None:
            leftover.kill()
