"""One writer at a time: a second process is told who holds the warehouse."""

from __future__ import annotations

import subprocess
import sys

import pytest

from orchestration.core.lock import WarehouseBusy, warehouse_lock

pytestmark = pytest.mark.unit

HOLD = """
import sys, time
from pathlib import Path
from orchestration.core.lock import warehouse_lock
with warehouse_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_second_process_is_refused_with_the_holders_pid(tmp_path):
    lock = tmp_path / "refresh.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE,
                              stdin=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy, match=f"pid {holder.pid} since"):
            with warehouse_lock(lock):
                pass
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    with warehouse_lock(lock):  # released when the holder ends
        pass


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    lock = tmp_path / "refresh.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE,
                              stdin=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=10)
    with warehouse_lock(lock):
        pass


def test_reentrant_within_one_process(tmp_path):
    lock = tmp_path / "refresh.lock"
    with warehouse_lock(lock), warehouse_lock(lock):
        pass
