"""What the printer reports of a page that broke: the error a reader of the log can act on."""

from __future__ import annotations

from orchestration.reporting.browser import _collect_query_errors


def _collected(msg: dict) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    exceptions: list[str] = []
    _collect_query_errors(msg, errors, exceptions)
    return errors, exceptions


def test_a_promise_rejected_with_a_plain_value_is_reported_with_that_value():
    # as Chromium sends it when a DataTable names a column its query does not return
    _, exceptions = _collected({
        "method": "Runtime.exceptionThrown",
        "params": {"exceptionDetails": {
            "text": "Uncaught (in promise)",
            "exception": {"type": "string",
                          "value": "Error in table: period_label does not exist in the dataset"},
        }},
    })
    assert exceptions == [
        "Uncaught (in promise): Error in table: period_label does not exist in the dataset"
    ]


def test_an_error_thrown_is_reported_by_its_first_two_lines():
    _, exceptions = _collected({
        "method": "Runtime.exceptionThrown",
        "params": {"exceptionDetails": {
            "text": "Uncaught",
            "exception": {"type": "object", "className": "TypeError",
                          "description": "TypeError: x is undefined\n    at f (a.js:1)\n    at g"},
        }},
    })
    assert exceptions == ["TypeError: x is undefined     at f (a.js:1)"]


def test_a_query_error_is_reported_with_its_query_and_detail():
    errors, exceptions = _collected({
        "method": "Runtime.consoleAPICalled",
        "params": {"type": "error", "args": [
            {"type": "string", "value": "ldu_changed_figures | Error in Query!"},
            {"type": "string", "value": "Binder Error: column move_order not found"},
        ]},
    })
    assert errors == ["ldu_changed_figures: Binder Error: column move_order not found"]
    assert exceptions == []
