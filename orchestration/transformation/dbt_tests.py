"""The blocking dbt tests of a build, read from its run_results.json, as one summary.

Dagster writes each event to its SQLite event log (about 40 ms each on a busy disk). One asset
check per dbt test cost three events a test (planned, evaluated, the check's output): about 800
of a division refresh's 1,100 events. The blocking (error-severity) tests are therefore one asset
check, `blocking_dbt_tests`, evaluated once per build from dbt's own record of the build; its
metadata names every test that failed, with dbt's message and failing-row count. Warn-severity
tests stay asset checks of their own, under their dbt names, so the warnings a refresh reports
(`marts/consistency_flags:consistency_flags_at_alarm`, ...) are named as before.

A failing blocking test still stops publication: dbt exits non-zero, and the dbt step fails with
`BlockingTestsFailedError`, naming the tests, after the summary check has been recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: the summary check's name; its key is on SUMMARY_ASSET (see assets.IcwDbtTranslator)
SUMMARY_CHECK = "blocking_dbt_tests"
#: failed tests listed in the check's metadata and in an error's message (the count is complete)
LISTED_FAILURES = 50
FAILED = ("fail", "error")
#: dbt's statuses of a test that ran (a test not run is "skipped", or has no result)
RAN = ("pass", "warn", *FAILED)


class BlockingTestsFailedError(RuntimeError):
    """A blocking dbt test failed: the build is not published."""


class DbtBuildFailedError(RuntimeError):
    """A model or seed failed to build (a contract's not_null constraint, a SQL error)."""


def failed_nodes(run_results: Mapping[str, Any]) -> list[str]:
    """The models and seeds that failed to build, each with the last line of dbt's message.

    A contract's `not_null` constraint fails the model itself (DuckDB refuses the insert), so
    it is named here rather than as a test.
    """
    out = []
    for result in run_results.get("results", []):
        if result["status"] != "error" or result["unique_id"].startswith("test."):
            continue
        message = (result.get("message") or "").strip().splitlines()
        name = result["unique_id"].split(".", 2)[-1]
        out.append(f"{name}: {message[-1]}" if message else name)
    return out


def is_blocking(test_props: Mapping[str, Any]) -> bool:
    """Whether a dbt test stops publication: severity error (dbt's default)."""
    return (test_props.get("config", {}).get("severity") or "error").lower() == "error"


@dataclass(frozen=True)
class TestOutcome:
    """One blocking dbt test's result in a build."""

    #: how a refresh names it: `<asset>:<test name>` (the test's model), or the test name alone
    label: str
    status: str
    failures: int | None
    message: str

    @property
    def failed(self) -> bool:
        """Whether the test failed (or errored): a blocking failure."""
        return self.status in FAILED

    def line(self) -> str:
        """The test, its status and how many rows failed it, in one line."""
        rows = f", {self.failures} rows" if self.failures else ""
        return f"{self.label} ({self.status}{rows})"


@dataclass(frozen=True)
class TestSummary:
    """The blocking tests of one build."""

    outcomes: tuple[TestOutcome, ...]
    #: blocking tests of the project with no result (skipped after a model failed, or stopped)
    not_run: int

    @property
    def failed(self) -> list[TestOutcome]:
        """The failed tests, by label."""
        return sorted((o for o in self.outcomes if o.failed), key=lambda o: o.label)

    @property
    def passed(self) -> bool:
        """No blocking test failed."""
        return not self.failed

    def failed_labels(self) -> list[str]:
        """The failed tests' labels (every one: the refresh's summary names them all)."""
        return [o.label for o in self.failed]

    def markdown(self) -> str:
        """The failed tests as a table, with dbt's message (what a reviewer reads in the UI)."""
        if self.passed:
            return f"All {len(self.outcomes)} blocking dbt tests passed."
        rows = [
            f"| `{o.label}` | {o.status} | {o.failures if o.failures is not None else ''} | "
            f"{_one_line(o.message)} |"
            for o in self.failed[:LISTED_FAILURES]
        ]
        more = len(self.failed) - LISTED_FAILURES
        return "\n".join([
            "| test | status | failing rows | dbt's message |",
            "|---|---|---|---|",
            *rows,
            *([f"\n... and {more} more"] if more > 0 else []),
        ])

    def error_message(self) -> str:
        """One line for the step's failure (icw prints its last line)."""
        listed = ", ".join(o.line() for o in self.failed[:10])
        more = len(self.failed) - 10
        return (
            f"{len(self.failed)} blocking dbt tests failed: {listed}"
            + (f" and {more} more" if more > 0 else "")
            + f"; nothing was published (their messages are in the check {SUMMARY_CHECK})"
        )


def _one_line(text: str) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")[:300]


def summarise_tests(
    run_results: Mapping[str, Any],
    manifest: Mapping[str, Any],
    label_of: Callable[[str], str],
) -> TestSummary:
    """The blocking tests' outcomes in run_results.json (dbt's record of the build).

    `label_of(unique_id)` names a test the way a refresh reports it.
    """
    blocking = set(blocking_test_ids(manifest))
    outcomes = []
    for result in run_results.get("results", []):
        uid = result["unique_id"]
        if uid not in blocking or result["status"] not in RAN:
            continue
        outcomes.append(TestOutcome(
            label=label_of(uid),
            status=result["status"],
            failures=result.get("failures"),
            message=result.get("message") or "",
        ))
    return TestSummary(tuple(outcomes), not_run=len(blocking) - len(outcomes))


def blocking_test_ids(manifest: Mapping[str, Any]) -> Iterable[str]:
    """The unique ids of the project's blocking tests."""
    return (
        uid for uid, props in manifest["nodes"].items()
        if props["resource_type"] == "test" and is_blocking(props)
    )
