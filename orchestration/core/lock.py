"""One writer at a time: an exclusive operating-system lock on a file in ICW_HOME.

DuckDB allows one writing process. The kernel releases an flock when its process dies, so a
killed refresh never leaves a stale lock behind; the lock file records who holds it so that a
second refresh can say so. The dbt a killed refresh started can outlive it by a moment: the
lock is not granted until that dbt has ended too (orchestration/transformation/dbt_guard.py).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestration.transformation import dbt_guard

_HELD: dict[Path, int] = {}


class WarehouseBusy(RuntimeError):
    """Another process is writing to the warehouse."""


def holder(path: Path) -> str:
    """Who the lock file says holds the lock (pid and start time), for messages."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return "another process"
    return text or "another process"


@contextmanager
def warehouse_lock(
    path: Path, wait: bool = False, log: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the writer's lock for the block; re-entrant within one process.

    Raises WarehouseBusy at once when another process holds it, unless wait is true. Once held,
    waits for a dbt left behind by a killed refresh to end (saying so through log), so the
    block never meets another writer.
    """
    path = path.resolve()
    if path in _HELD:  # this process already holds it (the CLI, then the run's resource)
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise WarehouseBusy(
                f"the warehouse is being refreshed by {holder(path)}; "
                "wait for it to finish, or run again with --wait"
            ) from None
        started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {started}\n".encode(), 0)
        _HELD[path] = fd
        try:
            try:
                dbt_guard.wait_for_leftover(dbt_guard.lock_path(path.parent), log=log)
            except RuntimeError as exc:
                raise WarehouseBusy(str(exc)) from None
            yield
        finally:
            del _HELD[path]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
