"""Stopping a refresh on request (SIGTERM, SIGINT), wherever it is when the signal comes.

Service managers, cron wrappers, `timeout` and container runtimes stop a process with SIGTERM; a
terminal sends SIGINT; Dagster stops a run terminated from its UI by sending SIGINT to the run's
process. Inside a run, Dagster turns either signal into an exception in whatever code is running,
but that exception can be lost: DuckDB turns it into `RuntimeError('Query interrupted')`, and one
raised inside a garbage-collection callback or a library's broad `except` is swallowed, after
which the run simply carries on (measured: a SIGTERM during ingestion was ignored in two runs of
three). So the signal is also recorded below Python's handlers: `signal.set_wakeup_fd` makes the
interpreter write each signal's number to a pipe before any handler runs, whoever owns the
handler. Whatever happens to the exception, `requested()` then says that a stop was asked for, the
run's stop points honour it, and callbacks registered with `on_stop` (stop dbt's process, mark the
Dagster run as canceling) run at once, from a watcher thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: the exceptions a stop signal raises: ours, Python's, Dagster's (named, not imported: lib/ is
#: plain Python)
_INTERRUPTS = {"StopRequested", "KeyboardInterrupt", "DagsterExecutionInterruptedError"}

_lock = threading.RLock()
_received: list[int] = []  # the stop signals recorded, first first
_callbacks: list[Callable[[int], None]] = []
_watch: dict[str, object] = {}  # the active pipe and watcher thread, while watch() is entered
_depth = 0


class StopRequested(BaseException):  # noqa: N818 (a request, like KeyboardInterrupt)
    """Raised by `raise_on_stop_signals`' handlers: a stop signal arrived outside a Dagster run.

    A BaseException, like KeyboardInterrupt, so that code catching Exception lets it through.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped on request ({signal.Signals(signum).name})")
        self.signum = signum


def signal_name(signum: int) -> str:
    """`15` -> `SIGTERM`."""
    return signal.Signals(signum).name


def exit_code(signum: int) -> int:
    """The shell's status for a process ended by signum: 143 for SIGTERM, 130 for SIGINT."""
    return 128 + signum


def requested() -> int | None:
    """The first stop signal received while watching (None when none was)."""
    _drain()
    with _lock:
        return _received[0] if _received else None


def record(signum: int) -> None:
    """Record a stop request (also what the watcher does when a stop signal arrives)."""
    with _lock:
        first = not _received
        if signum not in _received:
            _received.append(signum)
        callbacks = list(_callbacks) if first else []
    for callback in reversed(callbacks):  # innermost first: stopping a child is the urgent part
        _call(callback, signum)


def reset() -> None:
    """Forget recorded stop requests (between runs in one process, e.g. under pytest)."""
    _drain()
    with _lock:
        _received.clear()


@contextlib.contextmanager
def on_stop(callback: Callable[[int], None]) -> Iterator[None]:
    """Call callback(signum) once when a stop is requested during the block (at once if it was).

    The callback runs on the watcher thread, so it must be quick and thread-safe: signal a child
    process, write a row. It is never called after the block ends.
    """
    with _lock:
        _callbacks.append(callback)
        already = _received[0] if _received else None
    try:
        if already is not None:
            _call(callback, already)
        yield
    finally:
        with _lock:
            _callbacks.remove(callback)


@contextlib.contextmanager
def watch() -> Iterator[None]:
    """Record SIGTERM and SIGINT for the block, whichever Python handler is installed.

    Re-entrant. Only the main thread can own the wakeup file descriptor: elsewhere (a run
    executed in a worker thread) this does nothing, and a stop is seen only through Dagster's
    exception and the run's status.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _lock:
        _depth += 1
        outer = _depth == 1
    if outer:
        reset()  # a new watch: requests made before it are not this one's
        _start()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
        if outer:
            _stop()


@contextlib.contextmanager
def raise_on_stop_signals() -> Iterator[None]:
    """Outside a Dagster run: make SIGTERM and SIGINT raise StopRequested (once), and watch.

    Dagster installs its own handlers while a run executes and puts these back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    raised: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        record(signum)
        if not raised:  # a second signal must not break the clean-up the first one started
            raised.append(signum)
            raise StopRequested(signum)

    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    previous_hook = sys.unraisablehook

    def quiet_about_interrupts(unraisable) -> None:
        # an interrupt raised inside a garbage-collection callback is lost, and Python prints
        # its traceback; the stop itself is recorded (watch()), so say nothing
        if type(unraisable.exc_value).__name__ in _INTERRUPTS:
            return
        previous_hook(unraisable)

    for s in STOP_SIGNALS:
        signal.signal(s, handler)
    sys.unraisablehook = quiet_about_interrupts
    try:
        with watch():
            yield
    finally:
        sys.unraisablehook = previous_hook
        for s, h in previous.items():
            signal.signal(s, h)


def interrupt_process(process: subprocess.Popen, grace_seconds: float) -> None:
    """SIGINT a child now and SIGKILL it if it is still running after grace_seconds.

    For an on_stop callback: it returns at once (the kill waits on a timer thread).
    """

    def kill_if_running() -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        timer = threading.Timer(grace_seconds, kill_if_running)
        timer.daemon = True
        timer.start()


def stop_process(process: subprocess.Popen, grace_seconds: float) -> int | None:
    """Stop a child that was asked to stop (SIGINT): wait grace_seconds, then SIGKILL it.

    Returns its exit status. A child that has already ended is left alone.
    """
    if process.poll() is not None:
        return process.returncode
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


# -- the wakeup pipe and its watcher -------------------------------------------------------------

def _start() -> None:
    read_fd, write_fd = os.pipe()
    for fd in (read_fd, write_fd):
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    thread = threading.Thread(target=_watcher, args=(read_fd,), name="icw-stop-watcher",
                              daemon=True)
    with _lock:
        _watch.update(read=read_fd, write=write_fd, previous=previous, thread=thread)
    thread.start()


def _stop() -> None:
    with _lock:
        read_fd, write_fd = _watch["read"], _watch["write"]
        previous, thread = _watch["previous"], _watch["thread"]
    _drain()
    signal.set_wakeup_fd(previous)  # type: ignore[arg-type]
    with contextlib.suppress(OSError):
        os.write(write_fd, b"\0")  # wake the watcher: byte 0 is no signal, it means "quit"
    thread.join(timeout=5)  # type: ignore[attr-defined]
    with _lock:
        _watch.clear()
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):
            os.close(fd)  # type: ignore[arg-type]


def _watcher(read_fd: int) -> None:
    while True:
        with contextlib.suppress(InterruptedError):
            select.select([read_fd], [], [])
        if _drain(read_fd, quit_marker=True):
            return


def _drain(read_fd: int | None = None, quit_marker: bool = False) -> bool:
    """Read the signals waiting in the pipe and record the stop signals; True on "quit"."""
    with _lock:
        fd = read_fd if read_fd is not None else _watch.get("read")
        if fd is None:
            return True
        try:
            data = os.read(fd, 512)  # type: ignore[arg-type]
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
    for signum in data:
        if signum in STOP_SIGNALS:
            record(signum)
    return quit_marker and 0 in data


def _call(callback: Callable[[int], None], signum: int) -> None:
    with contextlib.suppress(Exception):  # a stop must go on even if one callback fails
        callback(signum)
