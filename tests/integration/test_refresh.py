"""A refresh of a small generated delivery fills the marts, loses no row, keeps no CRN."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from orchestration.ingestion.contract import load_reference_codes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def warehouse(refreshed_home: Path):
    con = duckdb.connect(str(refreshed_home / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def test_measures_have_a_row_for_every_ldu_intervention_and_month(warehouse, ground_truth):
    codes = load_reference_codes()
    months = warehouse.execute(
        "select count(distinct strftime(snapshot_date, '%Y-%m')) from raw.caseload"
    ).fetchone()[0]
    assert months == ground_truth["parameters"]["months"]
    rows = warehouse.execute(
        """
        select count(*), count(distinct ldu_code), count(distinct intervention_code),
            count(distinct period)
        from marts.ldu_intervention_measures where period_type = 'MONTH'
        """
    ).fetchone()
    assert rows == (
        months * len(codes["ldus"]) * len(codes["interventions"]),
        len(codes["ldus"]),
        len(codes["interventions"]),
        months,
    )


def _delivered_rows(folder: Path, extract: str, bad: set[tuple[str, int]]):
    """((as-at date, file name, line), row) of each delivered row of an extract, bad rows out."""
    import csv
    import gzip

    for path in sorted(folder.glob(f"{extract}_*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                if (path.name, reader.line_num) not in bad:
                    order = (path.name.split("_")[1][:10], path.name, reader.line_num)
                    yield order, {k: v.strip().upper() for k, v in row.items()}


def _current(folder: Path, extract: str, stamp: str, bad: set[tuple[str, int]]) -> dict:
    """Each referral's current row (docs/contract.md: greatest stamp, then as-at, name, line)."""
    current: dict[str, tuple] = {}
    for order, row in _delivered_rows(folder, extract, bad):
        key = (row[stamp], *order)
        if row["referral_id"] not in current or key > current[row["referral_id"]][0]:
            current[row["referral_id"]] = (key, row)
    return {referral_id: row for referral_id, (_, row) in current.items()}


def delivered_measures(folder: Path, truth: dict) -> tuple[int, int, int]:
    """Referrals, starts and completions in the window, counted from the files by docs/metrics.md.

    Independent of the pipeline: Python's csv module over the delivered files, the ground
    truth's bad rows left out, current versions by the contract's rule.
    """
    bad = {(b["file"], b["line"]) for b in truth["bad_rows"]}
    first, last = truth["window"]["first_month"], truth["window"]["last_month"]

    def inside(day: str) -> bool:
        return bool(day) and first <= day[:7] <= last

    referrals = _current(folder, "referrals", "last_updated_at", bad)
    completions = _current(folder, "completions", "recorded_at", bad)  # orphans count nowhere
    starts = (
        r["start_date"] or completions.get(referral_id, {}).get("start_date", "")
        for referral_id, r in referrals.items()
    )
    return (
        sum(inside(r["referral_date"]) for r in referrals.values()),
        sum(inside(day) for day in starts),
        sum(
            c["outcome"] == "COMPLETED" and inside(c["end_date"])
            for referral_id, c in completions.items()
            if referral_id in referrals
        ),
    )


def test_monthly_measures_count_every_delivered_referral_start_and_completion(
    warehouse, small_extracts, ground_truth
):
    counted = warehouse.execute(
        "select sum(referrals), sum(starts), sum(completions) "
        "from marts.ldu_intervention_measures where period_type = 'MONTH'"
    ).fetchone()
    assert counted == delivered_measures(small_extracts, ground_truth)


def test_division_counts_are_the_sums_of_the_ldus(warehouse):
    mismatches = warehouse.execute(
        """
        select d.period, d.intervention_code
        from marts.division_intervention_measures d
        join (
            select period_type, period, intervention_code, sum(referrals) as referrals,
                sum(starts) as starts, sum(completions) as completions
            from marts.ldu_intervention_measures group by all
        ) l using (period_type, period, intervention_code)
        where (d.referrals, d.starts, d.completions) <> (l.referrals, l.starts, l.completions)
        """
    ).fetchall()
    assert mismatches == []


def test_every_delivered_row_is_loaded_or_quarantined(warehouse, small_extracts, ground_truth):
    loads = warehouse.execute(
        "select file_name, rows_read, rows_loaded, rows_quarantined from audit.loads "
        "where status = 'LOADED'"
    ).fetchall()
    delivered = [f for f in small_extracts.iterdir() if f.name != "ground_truth.json"]
    assert len(loads) == len(delivered)
    for name, read, loaded, quarantined in loads:
        assert read == loaded + quarantined, name
    quarantined = set(
        warehouse.execute(
            "select file_name, line_number, reason_code from audit.quarantined_rows"
        ).fetchall()
    )
    planted = {(b["file"], b["line"], b["reason_code"]) for b in ground_truth["bad_rows"]}
    assert quarantined == planted


CRN = re.compile(r"\b[A-Za-z][0-9]{6}\b")


def test_no_crn_or_date_of_birth_anywhere_in_the_warehouse(warehouse, small_extracts):
    import csv
    import gzip

    births: set[str] = set()
    for f in small_extracts.glob("caseload_*"):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8-sig", newline="") as fh:
            births |= {row.get("date_of_birth", "") for row in csv.DictReader(fh)}
    births.discard("")
    columns = warehouse.execute(
        """
        select table_schema, table_name, column_name, data_type from information_schema.columns
        where data_type in ('VARCHAR', 'DATE', 'VARCHAR[]')
        """
    ).fetchall()
    assert columns
    for schema, table, column, _data_type in columns:
        values = warehouse.execute(
            f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" '
            f'where "{column}" is not null'
        ).fetchall()
        for (value,) in values:
            assert not CRN.search(value), f"{schema}.{table}.{column} holds a CRN-shaped value"
            # event dates are years after any birth date, so no legitimate value collides
            assert value not in births, f"{schema}.{table}.{column} holds a date of birth"
    dob_columns = [c for c in columns if "birth" in c[2]]
    assert dob_columns == []
