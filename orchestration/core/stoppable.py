"""A refresh stopped on request ends as Dagster's "canceled", whoever asked and whenever.

Each writing asset runs inside `stoppable(context)`: it honours a stop requested before it
started, marks the run as canceling as soon as a stop is requested (so Dagster ends it as
CANCELED, not FAILURE), and turns what a stop leaves behind (DuckDB's `RuntimeError('Query
interrupted')`, a swallowed interrupt) into Dagster's own interruption. The rules of what is
rolled back live with the work: the loader's transaction per file, dbt's build schemas, the
publish transaction (orchestration/core/stopping.py has the signal side).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError

from orchestration.core import stopping

_STOPPING_STATUSES = (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)
_marked: set[str] = set()
_marked_lock = threading.Lock()


def stop_message(signum: int | None, step: str | None = None) -> str:
    """What the run's log says when it is stopped (in step, when one is named)."""
    how = f"on request ({stopping.signal_name(signum)})" if signum else "from the Dagster UI"
    if step is None:
        return f"Refresh stopped {how}; the next refresh will finish the work."
    return (f"Refresh stopped {how} in step {step}: what it had not committed was rolled back "
            "(the file being loaded, dbt's build) and no later step runs; the next refresh "
            "will finish the work.")


def mark_canceling(instance: dg.DagsterInstance, run_id: str, signum: int | None) -> None:
    """Mark the run as canceling once (from any thread); Dagster then ends it as CANCELED."""
    with _marked_lock:
        if run_id in _marked:
            return
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return
        _marked.add(run_id)
        if run.status not in _STOPPING_STATUSES:
            instance.report_run_canceling(run, message=stop_message(signum))


def requested(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> bool:
    """True when a stop signal arrived, or the run was terminated (from the UI) meanwhile."""
    if stopping.requested() is not None:
        return True
    run = context.instance.get_run_by_id(context.run_id)
    return run is not None and run.status in _STOPPING_STATUSES


def stop_point(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> None:
    """Stop here, as Dagster's interruption, if a stop has been requested."""
    if requested(context):
        _interrupt(context)


@contextmanager
def stoppable(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> Iterator[None]:
    """Run an asset's work so that a stop requested before or during it ends the run canceled."""
    instance, run_id = context.instance, context.run_id
    with stopping.watch():
        stop_point(context)
        with stopping.on_stop(lambda signum: mark_canceling(instance, run_id, signum)):
            try:
                yield
            except (KeyboardInterrupt, DagsterExecutionInterruptedError, stopping.StopRequested):
                _interrupt(context)
            except Exception as exc:
                if not requested(context):
                    raise
                _interrupt(context, exc)


def _interrupt(context, cause: BaseException | None = None) -> None:
    signum = stopping.requested()
    mark_canceling(context.instance, context.run_id, signum)
    message = stop_message(signum, context.op_handle.name)
    context.log.warning(message)
    raise DagsterExecutionInterruptedError(message) from cause
