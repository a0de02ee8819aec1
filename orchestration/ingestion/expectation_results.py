"""The suites' results in audit.expectation_results: recorded per file, summarised per run.

The loader records each file's counts per expectation in the file's own transaction, so they
commit (or roll back) with its rows. The Dagster asset checks read them back: an extract's
results over the files of a run (or every file's latest load), set beside the quarantine's counts
reason by reason, since a row breaking several rules counts for each in the suite but is
quarantined once, with its first reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.ingestion import contract as c
from orchestration.ingestion.batch_validation import BatchValidation
from orchestration.ingestion.expectations import suite_dict


def record_results(
    con: duckdb.DuckDBPyConnection, load_id: int, file_name: str, validation: BatchValidation
) -> None:
    """Append a file's results to audit.expectation_results (in the caller's transaction)."""
    if not validation.results:
        return
    rows = [
        [load_id, file_name, validation.extract, r.name, r.reason_code, r.column,
         r.unexpected_count, r.success]
        for r in validation.results
    ]
    placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
    con.execute(
        "insert into audit.expectation_results (load_id, file_name, extract, expectation, "
        f"reason_code, column_name, unexpected_count, success) values {placeholders}",
        [value for row in rows for value in row],
    )


@dataclass(frozen=True)
class SuiteSummary:
    """An extract's suite results over a set of loaded files, beside the quarantine's counts."""

    extract: str
    files: tuple[str, ...]
    unexpected: dict[str, int]  # rows breaking each expectation, summed over the files
    failed: tuple[str, ...]  # expectations that failed on at least one file
    suite_by_reason: dict[str, int]  # the suite's counts summed per reason code
    quarantine_by_reason: dict[str, int]  # rows quarantined per (first) reason code

    @property
    def passed(self) -> bool:
        """True when every expectation succeeded on every file."""
        return not self.failed

    def comparison_markdown(self) -> str:
        """Reason by reason: rows breaking the rules (suite) and rows quarantined."""
        lines = ["| reason | rows breaking a rule (suite) | rows quarantined |", "|---|---:|---:|"]
        for reason in c.REASON_ORDER:
            suite = self.suite_by_reason.get(reason)
            quarantined = self.quarantine_by_reason.get(reason, 0)
            if suite is None and not quarantined:
                continue
            shown = "not in the suite" if suite is None else str(suite)
            lines.append(f"| {reason} | {shown} | {quarantined} |")
        return "\n".join(lines)


def summarise_results(
    con: duckdb.DuckDBPyConnection, extract: str, since_epoch: float | None = None
) -> SuiteSummary:
    """The suite's results on the extract's files loaded since a moment (a run's start).

    ``since_epoch`` is a Unix time; without it, every file's latest load is summarised. The
    comparison is made in DuckDB, where audit.loads.loaded_at was written, so the session's
    time zone applies to both sides.
    """
    loads = con.execute(
        """
        select load_id, file_name
        from audit.loads
        where status = 'LOADED' and extract = $extract
            and ($since is null or loaded_at >= to_timestamp($since)::timestamp)
        qualify $since is not null
            or row_number() over (partition by file_name order by load_id desc) = 1
        order by load_id
        """,
        {"extract": extract, "since": since_epoch},
    ).fetchall()
    ids = [row[0] for row in loads]
    results = con.execute(
        """
        select expectation, any_value(reason_code), sum(unexpected_count)::bigint,
            bool_and(success)
        from audit.expectation_results
        where list_contains($ids, load_id)
        group by expectation
        """,
        {"ids": ids},
    ).fetchall()
    quarantined = con.execute(
        """
        select reason_code, count(*)
        from audit.quarantined_rows
        where list_contains($ids, load_id)
        group by reason_code
        """,
        {"ids": ids},
    ).fetchall()
    order = {e["meta"]["name"]: i for i, e in enumerate(
        suite_dict(c.EXTRACTS[extract], c.load_reference_codes())["expectations"])}
    results.sort(key=lambda r: order.get(r[0], len(order)))
    by_reason: dict[str, int] = {}
    for _, reason, count, _ in results:
        by_reason[reason] = by_reason.get(reason, 0) + int(count)
    return SuiteSummary(
        extract=extract,
        files=tuple(row[1] for row in loads),
        unexpected={name: int(count) for name, _, count, _ in results},
        failed=tuple(name for name, _, _, ok in results if not ok),
        suite_by_reason=by_reason,
        quarantine_by_reason={reason: int(n) for reason, n in quarantined},
    )
