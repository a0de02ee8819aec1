"""A stop that lands while SQLAlchemy closes a connection is not printed as a traceback.

The refresh reports a stop in one line (tests/integration/test_refresh_stopped.py); when the
stop's exception surfaced inside SQLAlchemy's pool, the pool logged it with a traceback too.
"""

from __future__ import annotations

import logging

import pytest
from dagster._core.errors import DagsterExecutionInterruptedError

from orchestration.automation.refresh import _STOP_FILTER, _hide_closes_interrupted_by_a_stop


def record_of(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except BaseException as caught:
        exc_info = (type(caught), caught, caught.__traceback__)
    return logging.LogRecord("sqlalchemy.pool.impl.NullPool", logging.ERROR, __file__, 1,
                             "Exception closing connection %r", ("c",), exc_info)


def test_a_close_interrupted_by_the_stop_is_dropped():
    assert not _STOP_FILTER.filter(record_of(DagsterExecutionInterruptedError()))


@pytest.mark.parametrize("error", [ValueError("disk"), KeyboardInterrupt()])
def test_any_other_error_is_still_shown(error: BaseException):
    assert _STOP_FILTER.filter(record_of(error))


def test_the_filter_is_on_the_handler_the_pool_log_reaches():
    _hide_closes_interrupted_by_a_stop()
    _hide_closes_interrupted_by_a_stop()  # twice: added once
    assert logging.lastResort is not None
    assert logging.lastResort.filters.count(_STOP_FILTER) == 1
