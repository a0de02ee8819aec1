"""Two monthly publishes with a late and a restated referral between them: what_changed says so.

The first refresh loads every month but the last and publishes (publication 1, no earlier
report). The second loads the last month, whose referrals file also carries a referral dated
months back that was never delivered before (late) and a new version of an old referral that
moves it to another LDU (restated). The second build compares with publication 1.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.automation.refresh import run_refresh
from tests.conftest import SMALL, icw_environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LATE_ID = "RF99999901"
FAKE_CLEARED = ("EM07", "TSP", "REFERRAL_RATIO", "QUARTER")


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or ()), list(reader)


def _query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_a_second_publish_reports_late_and_restated_figures_and_findings(
    small_extracts: Path, tmp_path: Path
):
    home = tmp_path / "home"
    files = sorted(f for f in small_extracts.iterdir() if f.suffix == ".csv")
    last_as_at = max(f.stem.rsplit("_", 1)[1] for f in files)
    earlier = [f for f in files if not f.stem.endswith(last_as_at)]
    last = [f for f in files if f.stem.endswith(last_as_at)]

    with icw_environment(home) as settings:
        settings.landing_dir.mkdir(parents=True, exist_ok=True)
        for f in earlier:
            shutil.copy2(f, settings.landing_dir / f.name)
        run_refresh(settings, with_report=False, log=lambda _: None)
        warehouse = settings.warehouse

        [(first_month,)] = _query(warehouse, "select reporting_month from reporting.what_changed "
                                             "where change_kind = 'NO_EARLIER_REPORT'")
        [(publication_id, month_1)] = _query(
            warehouse, "select publication_id, reporting_month from published_history.publications")
        assert (publication_id, month_1) == (1, first_month)

        # a finding the first report had that is not current now (CLEARED), and a current one
        # the first report is made not to have (NEW): the other findings persist or not as the
        # data says
        with duckdb.connect(str(warehouse)) as con:
            con.execute(
                "insert into published_history.current_findings (publication_id, period_type, "
                "period, ldu_code, intervention_code, measure, level, direction, value) "
                "values (1, ?, '2000-01 Q1', ?, ?, ?, 'ALARM', 'LOW', 0.1)",
                [FAKE_CLEARED[3], FAKE_CLEARED[0], FAKE_CLEARED[1], FAKE_CLEARED[2]],
            )
            removed = con.execute(
                "select ldu_code, intervention_code, measure, period_type "
                "from published_history.current_findings where publication_id = 1 "
                "and period_type = 'YEAR' order by all limit 1").fetchone()
            con.execute(
                "delete from published_history.current_findings where publication_id = 1 "
                "and ldu_code = ? and intervention_code = ? and measure = ? and period_type = ?",
                list(removed))

        # the last month's files, its referrals with one late and one restated referral more
        referrals_file = next(f for f in last if f.name.startswith("referrals_"))
        header, rows = _rows(referrals_file)
        delivered_last = {r["referral_id"] for r in rows}
        current: dict[str, dict[str, str]] = {}  # each referral's current version so far
        for f in earlier:
            if f.name.startswith("referrals_"):
                for r in _rows(f)[1]:
                    stamp = r.get("last_updated_at") or ""
                    if r.get("referral_date") and stamp >= current.get(
                        r["referral_id"], {}
                    ).get("last_updated_at", ""):
                        current[r["referral_id"]] = r
        loaded = dict(_query(  # the current versions the first publish counted
            warehouse,
            "select referral_id, ldu_code from intermediate.int_referrals_current_selected"))
        moved = next(
            r for _, r in sorted(current.items())
            if r["referral_id"] not in delivered_last
            and loaded.get(r["referral_id"]) == r["ldu_code"]
            and SMALL["start"] < r["referral_date"][:7] < first_month
        )
        late_date = f"{moved['referral_date'][:7]}-15"
        late = {**rows[0], "referral_id": LATE_ID, "referral_date": late_date,
                "status": "AWAITING_START", "status_reason": "", "start_date": "",
                "last_updated_at": f"{last_as_at}T09:00:00"}
        new_ldu = "WM01" if moved["ldu_code"] != "WM01" else "WM02"
        # the late referral in a third LDU, so each figure has one cause
        late["ldu_code"] = next(c for c in ("EM01", "EM02", "EM03") if c != moved["ldu_code"])
        restated = {**moved, "ldu_code": new_ldu, "last_updated_at": f"{last_as_at}T10:00:00"}
        for f in last:
            shutil.copy2(f, settings.landing_dir / f.name)
        with (settings.landing_dir / referrals_file.name).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows([*rows, late, restated])
        run_refresh(settings, with_report=False, log=lambda _: None)

    publications = _query(warehouse, "select publication_id, reporting_month "
                                     "from published_history.publications order by 1")
    assert [p[0] for p in publications] == [1, 2] and publications[1][1] > month_1
    changes = _query(
        warehouse,
        "select change_kind, ldu_code, intervention_code, measure, period_type, period_now, "
        "value_before, value_now, reason, late_records, restated_records, baseline_reporting_month "
        "from reporting.what_changed")
    assert {c[-1] for c in changes} == {month_1}

    def figure(ldu, intervention, period):
        [row] = [c for c in changes if c[0] == "FIGURE_REVISED" and c[1:6] == (
            ldu, intervention, "REFERRALS", "MONTH", period)]
        return row

    late_row = figure(late["ldu_code"], late["intervention_code"], late_date[:7])
    assert late_row[7] == late_row[6] + 1
    assert late_row[8] in ("LATE", "LATE_AND_RESTATED") and late_row[9] >= 1
    moved_month = moved["referral_date"][:7]
    restated_row = figure(new_ldu, moved["intervention_code"], moved_month)
    assert restated_row[7] == restated_row[6] + 1
    assert restated_row[8] in ("RESTATED", "LATE_AND_RESTATED") and restated_row[10] >= 1
    # the LDU the referral left has one fewer, and cannot say why from its own records
    left_row = figure(moved["ldu_code"], moved["intervention_code"], moved_month)
    assert left_row[7] == left_row[6] - 1

    kinds = {(c[0], c[1], c[2], c[3], c[4]) for c in changes if c[0].startswith("FINDING")}
    assert ("FINDING_CLEARED", *FAKE_CLEARED) in kinds
    still_current = _query(
        warehouse, "select count(*) from reporting.current_findings where ldu_code = ? and "
        "intervention_code = ? and measure = ? and period_type = ?", list(removed))[0][0]
    if still_current:
        assert ("FINDING_NEW", *removed) in kinds
    assert len(_query(warehouse, "select * from published_history.ldu_intervention_measures "
                                 "where publication_id = 2")) > 0
