"""Asset checks that surface the consistency flags and recording checks in the Dagster UI.

They warn and never block: an LDU out of line, or a recording problem, is a finding for the
division to look at, not a fault in the build. They read the build schema right after
`dbt build`, so they report on the tables about to be published. The queries and summaries are
in orchestration.lib.findings; these functions only turn them into check results.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.lib.findings import consistency_findings, recording_findings

CONSISTENCY_FLAGS_KEY = dg.AssetKey(["marts", "consistency_flags"])
DATA_QUALITY_ISSUES_KEY = dg.AssetKey(["marts", "data_quality_issues"])


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
        "Which recording checks (METRICS.md data_quality_issues) found records, with counts, "
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


consistency_checks = [ldus_out_of_line, recording_problems]
