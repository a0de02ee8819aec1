"""A dbt process never outlives the refresh that started it, and never meets the next one.

dbt runs in a child process that opens the warehouse for writing. When the refresh is killed
(SIGKILL, a lost machine), the kernel releases the refresh's lock at once, but its dbt used to
carry on for a few seconds (measured: 2.9 s), so a refresh started in that window met DuckDB's
"could not set lock" error. Two guards close the window:

- dbt's process asks the kernel to SIGKILL it when its parent dies (`PR_SET_PDEATHSIG`), and
  refuses to open the warehouse if its parent has already gone;
- dbt's process holds an exclusive `flock` on `$ICW_HOME/dbt.lock` for its whole life, taken
  before it opens the warehouse and released by the kernel only when the process has ended
  (after DuckDB's own lock: the descriptor is moved above DuckDB's). A refresh takes the writer's
  lock, then waits for dbt.lock to be free, stopping a leftover dbt whose parent is dead.

Both are done inside dbt's process by a dbt-duckdb plugin
(orchestration/transformation/dbt_plugin.py, named in dbt_project/profiles.yml), because dagster-dbt
starts dbt itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import fcntl
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: set, in dbt's environment only, to the pid of the process that starts dbt
PARENT_PID_VARIABLE = "ICW_DBT_PARENT_PID"
LOCK_NAME = "dbt.lock"
#: how long a refresh waits for a dbt it did not start (an analyst's) before giving up
WAIT_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1
_HIGH_FD = 900  # above the descriptors DuckDB opens, so the kernel closes this one last
_held: list[int] = []  # the dbt process's lock descriptor, kept for the process's life


class ParentGone(RuntimeError):
    """dbt was started by a refresh that has already ended: it must not touch the warehouse."""


@dataclass(frozen=True)
class Holder:
    """Who holds dbt.lock, as the holder wrote it."""

    pid: int
    parent: int | None
    text: str


def lock_path(home: Path) -> Path:
    """The dbt lock of the ICW_HOME home."""
    return home / LOCK_NAME


@contextlib.contextmanager
def parent_pid_for_child() -> Iterator[None]:
    """Put this process's pid in the environment while a dbt child is being started."""
    previous = os.environ.get(PARENT_PID_VARIABLE)
    os.environ[PARENT_PID_VARIABLE] = str(os.getpid())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PARENT_PID_VARIABLE, None)
        else:
            os.environ[PARENT_PID_VARIABLE] = previous


def die_with_parent(expected_parent: int) -> None:
    """Have this process SIGKILLed when its parent dies; refuse if it already has.

    The kernel's parent-death signal belongs to the thread that asks for it and is forgotten
    when that thread ends, and dbt's plugins run in a worker thread that ends early. So a
    daemon thread of its own asks, and lives as long as the process; it also checks the parent
    twice a second, for systems without `PR_SET_PDEATHSIG`.
    """
    asked = threading.Event()
    failure: list[BaseException] = []

    def guard() -> None:
        try:
            if sys.platform.startswith("linux"):
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        except OSError as exc:
            failure.append(exc)
        finally:
            asked.set()
        if failure or os.getppid() != expected_parent:
            return  # die_with_parent raises: dbt fails before it opens the warehouse
        while os.getppid() == expected_parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    # checked after asking, so a parent that dies in between is seen one way or the other
    threading.Thread(target=guard, name="icw-die-with-parent", daemon=True).start()
    asked.wait()
    if failure:
        raise failure[0]
    if os.getppid() != expected_parent:
        raise ParentGone(
            f"the process that started this dbt (pid {expected_parent}) has ended; "
            "this dbt will not touch the warehouse"
        )


def hold_for_life(path: Path, wait_seconds: float = WAIT_SECONDS) -> None:
    """Take dbt.lock for the rest of this process's life (the dbt process calls this)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise RuntimeError(
                    f"another dbt ({read_holder(path).text}) is using the warehouse; "
                    "wait for it to finish"
                ) from None
            time.sleep(0.2)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} (dbt, started by pid {os.getppid()}) since {started}\n"
              .encode(), 0)
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD)
    os.close(fd)  # the lock stays: it belongs to the open file, which `high` keeps open
    _held.append(high)


def read_holder(path: Path) -> Holder:
    """What dbt.lock says about its holder (pid 0 when it says nothing readable)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    pid = re.search(r"\bpid (\d+)", text)
    parent = re.search(r"started by pid (\d+)", text)
    return Holder(int(pid.group(1)) if pid else 0, int(parent.group(1)) if parent else None,
                  text or "a dbt process")


def is_free(path: Path) -> bool:
    """True when no process holds dbt.lock."""
    if not path.exists():
        return True
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie has ended: it only waits for its parent to collect its status
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def _is_dbt(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(a.decode(errors="replace")).name == "dbt" for a in argv[:2])


def wait_for_leftover(
    path: Path,
    wait_seconds: float = WAIT_SECONDS,
    log: Callable[[str], None] | None = None,
) -> None:
    """Return once no dbt holds dbt.lock; stop a leftover whose refresh has died.

    Called by a refresh that holds the writer's lock, before it touches the warehouse. A holder
    whose recorded parent is dead is an orphan of a killed refresh: it is SIGKILLed (its build
    is thrown away anyway). A holder whose parent lives (dbt run by hand) is waited for, up to
    wait_seconds; then RuntimeError says who holds it.
    """
    deadline = time.monotonic() + wait_seconds
    said = False
    while not is_free(path):
        holder = read_holder(path)
        orphan = not _alive(holder.parent)
        if orphan and _alive(holder.pid) and _is_dbt(holder.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder.pid, signal.SIGKILL)
        if not said and log is not None:
            what = "left by a refresh that was killed" if orphan else "run outside this refresh"
            log(f"Waiting for dbt ({holder.text}), {what}, to end before writing.")
            said = True
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"dbt ({holder.text}) still holds the warehouse after {wait_seconds:.0f} s; "
                "let it finish or stop it, then run again"
            )
        time.sleep(0.05)
