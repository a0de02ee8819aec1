"""The demo tells the story: planted anomalies flagged, the case-mix trap not, few others.

A default-scale demo delivery (17,000 people, 36 months, seed 1: what `icw demo` loads) is
refreshed end to end, and the published `marts.consistency_flags` is compared with the
generator's `ground_truth.json` (docs/methods.md): "flagged" means level = ALARM, in the
planted direction, in every full financial year; "few other LDUs" means at most 1 % of the other
YEAR rows at ALARM. The findings also reach Dagster's asset checks, as warnings.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.ingestion.contract import load_reference_codes
from tests.conftest import icw_environment, land

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEMO = {"people": 17000, "months": 36, "seed": 1}
#: The measures of `marts.consistency_flags` (docs/metrics.md).
MEASURES = ("COMPLETION_RATE", "TIMELY_START_RATE", "REFERRAL_RATIO")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """(ground truth, refresh summary, home) after refreshing the default demo delivery."""
    from orchestration.automation.refresh import run_refresh
    from orchestration.demo import generate

    extracts = tmp_path_factory.mktemp("demo extracts")
    generate(extracts, **DEMO)
    truth = json.loads((extracts / "ground_truth.json").read_text())
    home = tmp_path_factory.mktemp("demo home")
    with icw_environment(home) as settings:
        land(extracts, settings.landing_dir)
        summary = run_refresh(settings, with_report=False, log=lambda _: None)
    return truth, summary, home


@pytest.fixture(scope="module")
def warehouse(demo):
    _, _, home = demo
    con = duckdb.connect(str(Path(home) / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def _year_rows(warehouse, ldu, intervention, measure):
    return {
        period: (level, direction, value, lower, upper)
        for period, level, direction, value, lower, upper in warehouse.execute(
            """
            select period, level, direction, value, lower_998, upper_998
            from marts.consistency_flags
            where period_type = 'YEAR' and ldu_code = ? and intervention_code = ?
                and measure = ?
            """,
            [ldu, intervention, measure],
        ).fetchall()
    }


def test_every_planted_anomaly_is_at_alarm_in_its_direction_in_every_full_year(demo, warehouse):
    truth, _, _ = demo
    assert truth["anomalies"], "the demo plants anomalies"
    for anomaly in truth["anomalies"]:
        rows = _year_rows(
            warehouse, anomaly["ldu_code"], anomaly["intervention_code"], anomaly["measure"]
        )
        for period in anomaly["periods"]:
            level, direction, value, lower, upper = rows[period]
            assert (level, direction) == ("ALARM", anomaly["direction"]), (
                f"{anomaly['ldu_code']} {anomaly['intervention_code']} {anomaly['measure']} "
                f"{period}: {level} {direction}, value {value} against [{lower}, {upper}]"
            )


def test_the_case_mix_trap_is_not_flagged_on_the_referral_ratio(demo, warehouse):
    truth, _, _ = demo
    trap = truth["case_mix_trap"]
    assert len(trap["eligible_bands"]) > 1, "a trap needs more than one eligible band to bite"
    rows = _year_rows(warehouse, trap["ldu_code"], trap["intervention_code"], "REFERRAL_RATIO")
    for period in trap["periods"]:
        level, _, value, lower, upper = rows[period]
        assert level not in ("ALARM", "ALERT"), (
            f"trap {trap['ldu_code']} {period}: {level}, ratio {value} against [{lower}, {upper}]"
        )
    # ...while its crude referral rate is well above the division's: the trap bites
    crude = warehouse.execute(
        """
        select l.referral_rate, d.referral_rate
        from marts.ldu_intervention_measures l
        join marts.division_intervention_measures d using (period_type, period, intervention_code)
        where l.period_type = 'YEAR' and l.period = ? and l.ldu_code = ?
            and l.intervention_code = ?
        """,
        [trap["periods"][0], trap["ldu_code"], trap["intervention_code"]],
    ).fetchone()
    assert crude[0] > 1.5 * crude[1]


def test_few_other_year_rows_are_at_alarm(demo, warehouse):
    truth, _, _ = demo
    planted = {(a["ldu_code"], a["intervention_code"], a["measure"]) for a in truth["anomalies"]}
    rows = warehouse.execute(
        "select ldu_code, intervention_code, measure, level from marts.consistency_flags "
        "where period_type = 'YEAR'"
    ).fetchall()
    others = [level for ldu, code, measure, level in rows if (ldu, code, measure) not in planted]
    # every YEAR, LDU, intervention and measure has its row, bar the planted anomalies' rows
    codes = load_reference_codes()
    years = len(truth["window"]["financial_years"])
    cells = len(codes["ldus"]) * len(codes["interventions"]) * len(MEASURES)
    assert len(others) == years * (cells - len(planted))
    share = sum(level == "ALARM" for level in others) / len(others)
    assert share <= 0.01, f"{share:.2%} of the other YEAR rows are at ALARM"


def test_flags_and_recording_checks_reach_dagster_as_warnings(demo):
    import dagster as dg

    _, summary, home = demo
    # the refresh published (nothing blocked) and its warnings name the findings
    assert summary.flags_available
    # WARN-severity findings are listed as warnings, not as failed checks
    assert "marts/consistency_flags:ldus_out_of_line" in summary.warnings
    assert "marts/data_quality_issues:recording_problems" in summary.warnings
    assert summary.failed_checks == []
    with icw_environment(Path(home)), dg.DagsterInstance.get() as instance:
        for key, name in (
            (dg.AssetKey(["marts", "consistency_flags"]), "ldus_out_of_line"),
            (dg.AssetKey(["marts", "data_quality_issues"]), "recording_problems"),
        ):
            records = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(key, name), limit=1
            )
            evaluation = records[0].event.dagster_event.event_specific_data
            assert evaluation.severity == dg.AssetCheckSeverity.WARN
            assert not evaluation.passed
            assert evaluation.metadata, f"{name} reports what it found"


def test_funnel_limits_are_published_for_every_group_with_the_flags_centre(demo, warehouse):
    mismatched = warehouse.execute(
        """
        with groups as (
            select period_type, period, intervention_code, measure,
                any_value(division_value) as division_value, max(denominator) as largest
            from marts.consistency_flags
            group by all
        ),
        grid as (
            select period_type, period, intervention_code, measure,
                count(*) as points, any_value(division_value) as division_value,
                max(denominator) as top
            from reporting.funnel_limits
            group by all
        )
        select groups.*, grid.points, grid.division_value, grid.top
        from groups
        left join grid using (period_type, period, intervention_code, measure)
        where groups.division_value is not null and groups.largest * 1.2 > 1
            and (grid.points is distinct from 60
                or abs(grid.division_value - groups.division_value) > 1e-12
                or abs(grid.top - 1.2 * groups.largest) > 1e-9)
        """
    ).fetchall()
    assert mismatched == []
    # 60 points for each YEAR and QUARTER of the window, intervention and measure: no more
    truth, _, _ = demo
    periods = len(truth["window"]["financial_years"]) + len(truth["window"]["quarters"])
    groups = periods * len(load_reference_codes()["interventions"]) * len(MEASURES)
    assert warehouse.execute("select count(*) from reporting.funnel_limits").fetchone()[0] == (
        60 * groups
    )


def test_the_demos_diversity_tables_pass_the_intruders_audit(demo, warehouse):
    from orchestration.statistics import disclosure

    _, summary, _ = demo
    report = disclosure.audit_published(disclosure.read_published_cells(warehouse, "reporting"))
    assert report.passed, [f.line() for f in report.findings[:10]]
    # one set of linked tables per financial year of the window and count (referrals,
    # completions), and every suppressed cell of them audited, a shared row total once
    truth, _, _ = demo
    assert report.table_sets == 2 * len(truth["window"]["financial_years"])
    assert report.suppressed == warehouse.execute(
        """
        select count(distinct (period_type, period, measure,
            case when column_key = 'ALL' then '*' else dimension end, row_key, column_key))
        from reporting.diversity_table_cells where shown_count is null
        """
    ).fetchone()[0]
    assert "reporting/diversity_table_cells:no_suppressed_count_disclosed" not in (
        summary.failed_checks + summary.warnings
    )
