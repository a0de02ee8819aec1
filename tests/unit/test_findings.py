"""The findings the Dagster asset checks report: which LDUs are out of line, which checks fired."""

import duckdb
import pytest

from orchestration.transformation.findings import consistency_findings, recording_findings

pytestmark = pytest.mark.unit

# What consistency_findings reads of the dbt models current_periods and current_findings. Which
# rows are current (ALARM or ALERT, latest YEAR and QUARTER) is decided and unit-tested in dbt
# (dbt_project/models/reporting/current_findings.yml); here the tables are given as dbt built them.
PERIOD_COLUMNS = "period_type varchar, period varchar, is_partial boolean"
FINDING_COLUMNS = (
    "period_type varchar, period varchar, is_partial boolean, intervention_code varchar, "
    "measure varchar, ldu_code varchar, level varchar, direction varchar, value double, "
    "division_value double, lower_998 double, upper_998 double, level_adjusted varchar"
)


def _finding(period_type, period, ldu, level, direction="LOW", partial=False,
             intervention="TSP", measure="COMPLETION_RATE"):
    return (period_type, period, partial, intervention, measure, ldu, level, direction, 0.5,
            0.7, 0.6, 0.8, level)


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("create schema marts_build")
    connection.execute("create schema reporting_build")
    connection.execute(f"create table reporting_build.current_periods ({PERIOD_COLUMNS})")
    connection.execute(f"create table reporting_build.current_findings ({FINDING_COLUMNS})")
    connection.execute(
        "create table marts_build.data_quality_issues (check_code varchar, ldu_code varchar, "
        "period varchar, record_count bigint, example_referral_ids varchar[])"
    )
    connection.execute(
        "create table marts_build.periods (period_type varchar, period varchar)"
    )
    yield connection
    connection.close()


def _insert(con, periods, findings):
    con.executemany("insert into reporting_build.current_periods values (?, ?, ?)", periods)
    if findings:
        placeholders = ", ".join("?" * len(findings[0]))
        con.executemany(
            f"insert into reporting_build.current_findings values ({placeholders})", findings
        )


CURRENT = [("MONTH", "2025-09", False), ("QUARTER", "2025-26 Q2", True), ("YEAR", "2025-26", True)]


def test_the_current_findings_are_reported_with_their_periods(con):
    _insert(con, CURRENT, [
        _finding("QUARTER", "2025-26 Q2", "WM05", "ALERT", "HIGH", partial=True),
        _finding("YEAR", "2025-26", "WM02", "ALARM", "LOW", partial=True),
    ])
    findings = consistency_findings(con)
    assert findings.periods == (("YEAR", "2025-26", True), ("QUARTER", "2025-26 Q2", True))
    assert [(f.period, f.ldu_code, f.level, f.direction) for f in findings.flags] == [
        ("2025-26", "WM02", "ALARM", "LOW"),
        ("2025-26 Q2", "WM05", "ALERT", "HIGH"),
    ]
    assert findings.has_findings
    assert (findings.count("ALARM"), findings.count("ALERT")) == (1, 1)
    assert findings.listing()[0] == "2025-26 ALARM LOW WM02 TSP COMPLETION_RATE"


def test_alarm_rows_are_listed_before_alert_rows_and_the_table_names_them(con):
    _insert(con, CURRENT, [
        _finding("YEAR", "2025-26", "EM01", "ALERT", "HIGH"),
        _finding("YEAR", "2025-26", "WM09", "ALARM", "LOW", intervention="SI_ATB",
                 measure="REFERRAL_RATIO"),
    ])
    findings = consistency_findings(con)
    assert [f.level for f in findings.flags] == ["ALARM", "ALERT"]
    table = findings.markdown()
    assert "1 at ALARM" in table and "1 at ALERT" in table
    assert "| 2025-26 | ALARM | LOW | WM09 | SI_ATB | REFERRAL_RATIO | 0.500 | 0.700 |" in table


def test_nothing_out_of_line_passes(con):
    _insert(con, [("YEAR", "2025-26", False)], [])
    findings = consistency_findings(con)
    assert not findings.has_findings
    assert findings.markdown() == "No LDU is at ALARM or ALERT in 2025-26."


def test_schema_must_be_a_plain_name(con):
    with pytest.raises(ValueError, match="not a schema name"):
        consistency_findings(con, schema="marts; drop table x")


def test_recording_checks_are_counted_overall_and_in_the_reported_months(con):
    con.executemany(
        "insert into marts_build.periods values (?, ?)",
        [("MONTH", "2023-10"), ("MONTH", "2023-11"), ("YEAR", "2023-24")],
    )
    con.executemany(
        "insert into marts_build.data_quality_issues values (?, ?, ?, ?, ?)",
        [
            ("NOT_ON_CASELOAD", "WM01", "2023-08", 5, ["RF1"]),
            ("NOT_ON_CASELOAD", "WM02", "2023-10", 2, ["RF2"]),
            ("ORPHAN_COMPLETION", None, "2023-11", 3, ["RF3"]),
            ("ORPHAN_COMPLETION", None, "2023-12", 1, ["RF4"]),
        ],
    )
    findings = recording_findings(con)
    assert findings.reported_months == ("2023-10", "2023-11")
    assert findings.records_by_check() == {"NOT_ON_CASELOAD": 7, "ORPHAN_COMPLETION": 4}
    by_code = {c.check_code: c for c in findings.checks}
    assert by_code["NOT_ON_CASELOAD"].records_in_reported_months == 2
    assert by_code["NOT_ON_CASELOAD"].ldus == 2
    assert by_code["ORPHAN_COMPLETION"].ldus == 0  # orphans have no LDU
    assert (by_code["ORPHAN_COMPLETION"].first_month, by_code["ORPHAN_COMPLETION"].last_month) == (
        "2023-11", "2023-12")
    assert findings.has_findings
    assert "| NOT_ON_CASELOAD | 7 | 2 | 2 | 2023-08 – 2023-10 |" in findings.markdown()


def test_no_recording_problems_passes(con):
    findings = recording_findings(con)
    assert not findings.has_findings
    assert findings.reported_months is None
    assert findings.markdown() == "No recording check found anything."
