"""Age bands: defined once in contract.py, listed in seed diversity_groups, made by the loader."""

from __future__ import annotations

import csv
import datetime as dt

import duckdb
import pytest

from orchestration.core.settings import REPO_ROOT
from orchestration.ingestion import contract as c

pytestmark = pytest.mark.unit


def test_the_seed_lists_the_contracts_bands_in_order_then_unknown():
    with (REPO_ROOT / "seeds" / "diversity_groups.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["dimension"] == "AGE_BAND"]
    listed = [r["group_value"] for r in sorted(rows, key=lambda r: int(r["display_order"]))]
    assert listed == [*c.AGE_BANDS, "UNKNOWN"]


@pytest.mark.parametrize(
    ("born", "band"),
    [
        ("2006-06-01", "18-24"),  # the 18th birthday is the snapshot date
        ("2006-06-02", "UNDER_18"),  # a day short of 18
        ("1999-06-02", "18-24"),  # a day short of 25
        ("1999-06-01", "25-34"),
        ("1989-06-02", "25-34"),
        ("1989-06-01", "35-49"),
        ("1974-06-02", "35-49"),
        ("1974-06-01", "50+"),
        ("1930-01-01", "50+"),
        ("2024-06-02", None),  # born after the snapshot: no band
        (None, None),
    ],
)
def test_the_loaders_band_is_whole_years_of_age_at_the_snapshot(born, band):
    sql = c.age_band_sql("dob", "snapshot_date")
    con = duckdb.connect()
    got = con.execute(
        f"select {sql} from (select ?::date as dob, ?::date as snapshot_date)",
        [dt.date.fromisoformat(born) if born else None, dt.date(2024, 6, 1)],
    ).fetchone()[0]
    assert got == band
