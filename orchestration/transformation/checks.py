"""Asset checks on the build, read right after `dbt build`, before anything is published.

`ldus_out_of_line` and `recording_problems` surface the consistency flags and recording checks
in the Dagster UI. They warn and never block: an LDU out of line, or a recording problem, is a
finding for the division to look at, not a fault in the build. Their queries and summaries are
in orchestration.transformation.findings.

`no_suppressed_count_disclosed` blocks: it is the intruder's audit of the report's diversity
tables (orchestration.statistics.disclosure), and when it can work out a suppressed count the tables
are not published (the publish step waits for it).

These functions only turn the plain functions' results into check results.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.statistics.disclosure import audit_published, read_published_cells
from orchestration.transformation.findings import consistency_findings, recording_findings

CONSISTENCY_FLAGS_KEY = dg.AssetKey(["marts", "consistency_flags"])
DATA_QUALITY_ISSUES_KEY = dg.AssetKey(["marts", "data_quality_issues"])
DIVERSITY_TABLE_CELLS_KEY = dg.AssetKey(["reporting", "diversity_table_cells"])
#: Findings listed in the check's metadata (the count is always complete).
LISTED_FINDINGS = 50


@dg.asset_check(
    asset=CONSISTENCY_FLAGS_KEY,
    name="ldus_out_of_line",
    description=(
        "Which LDUs are at ALARM (outside the 99.8 % funnel limits) or ALERT (outside 95 %) for "
        "which intervention and measure, in the latest financial year and quarter. Warns only."
    ),
    blocking=False,
    pool="warehouse",
)
def ldus_out_of_line(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Warn, listing them, when any LDU is at ALARM or ALERT in the latest periods."""
    with duckdb.get_connection() as con:
        findings = consistency_findings(con)
    return dg.AssetCheckResult(
        passed=not findings.has_findings,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "periods": dg.MetadataValue.json([period for _, period, _ in findings.periods]),
            "alarm": dg.MetadataValue.int(findings.count("ALARM")),
            "alert": dg.MetadataValue.int(findings.count("ALERT")),
            "flags": dg.MetadataValue.md(findings.markdown()),
            "flag_list": dg.MetadataValue.json(findings.listing()),
        },
    )


@dg.asset_check(
    asset=DATA_QUALITY_ISSUES_KEY,
    name="recording_problems",
    description=(
        "Which recording checks (docs/metrics.md data_quality_issues) found records, with counts, "
        "LDUs and months. Warns only: no record is dropped from any measure."
    ),
    blocking=False,
    pool="warehouse",
)
def recording_problems(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Warn, with counts per check, when any recording check found a record."""
    with duckdb.get_connection() as con:
        findings = recording_findings(con)
    return dg.AssetCheckResult(
        passed=not findings.has_findings,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "records_by_check": dg.MetadataValue.json(findings.records_by_check()),
            "records": dg.MetadataValue.int(sum(c.records for c in findings.checks)),
            "checks": dg.MetadataValue.md(findings.markdown()),
        },
    )


@dg.asset_check(
    asset=DIVERSITY_TABLE_CELLS_KEY,
    name="no_suppressed_count_disclosed",
    description=(
        "The intruder's audit of the report's diversity tables as built: for every suppressed "
        "count ([c]), its lowest and highest possible value given every shown count, the totals "
        "and that counts are not negative (a linear programme per year and count). Fails, and "
        "blocks publication, when any suppressed count can be worked out exactly."
    ),
    blocking=True,
    pool="warehouse",
)
def no_suppressed_count_disclosed(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Fail (and stop the publish) when a suppressed count of the built tables is disclosed."""
    with duckdb.get_connection() as con:
        report = audit_published(read_published_cells(con))
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            None if report.passed else
            f"{len(report.findings)} suppressed counts of reporting_build.diversity_table_cells "
            "can be worked out from the rest of their tables; fix the disclosure control "
            "(orchestration/statistics/disclosure/) and refresh again"
        ),
        metadata={
            "table_sets": dg.MetadataValue.int(report.table_sets),
            "suppressed_counts": dg.MetadataValue.int(report.suppressed),
            "disclosed": dg.MetadataValue.int(len(report.findings)),
            "disclosed_cells": dg.MetadataValue.json(
                [f.line() for f in report.findings[:LISTED_FINDINGS]]
            ),
        },
    )


consistency_checks = [ldus_out_of_line, recording_problems]
disclosure_checks = [no_suppressed_count_disclosed]
