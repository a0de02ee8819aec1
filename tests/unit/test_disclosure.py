"""Disclosure control of the report's tables: what the intruder's audit finds, and `protect`.

Hand-made tables, including the shape issue 10 found in a real warehouse (Horizon × OTHER), and
random tables of several sizes drawn with many small counts.
"""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from orchestration.statistics import disclosure as d
from orchestration.statistics.disclosure import TOTAL, Interval, Table, TableSet

pytestmark = pytest.mark.unit

ETHNICITY = ("ASIAN", "BLACK", "MIXED", "WHITE", "OTHER", "UNKNOWN")


def one_pass_rule(table: Table) -> set[tuple[str, str]]:
    """The rule issue 10 replaces: primary 1 to 4, then in each row and column with exactly one
    primary cell and a total not itself primary, its smallest other cell (ties: table order)."""
    primary = {p for p in table.positions() if d.is_small(table.counts[p])}
    hidden = set(primary)
    for total, parts in table.lines():
        small = [p for p in parts if p in primary]
        if len(small) != 1 or total in primary:
            continue
        others = [p for p in parts if p not in primary]
        if others:
            hidden.add(min(others, key=lambda p: (table.counts[p], parts.index(p))))
    return hidden


def published(tables: TableSet, hidden_positions: dict) -> dict:
    """The figures a reader sees: None where hidden."""
    out = {}
    for table in tables.tables:
        for position in table.positions():
            cell = tables.cell(table, *position)
            shown = position not in hidden_positions.get(table.name, set())
            out[cell] = table.counts[position] if shown else None
    return out


def horizon_referrals() -> Table:
    """One year's referrals by ethnicity: Horizon × OTHER is 3; nobody's ethnicity is unknown."""
    return Table.from_grid(
        "ETHNICITY_GROUP",
        rows=("BBR", "HORIZON", "TSP"),
        columns=ETHNICITY,
        grid=[
            [20, 15, 11, 150, 6, 0],
            [12, 9, 7, 80, 3, 0],
            [30, 22, 14, 200, 8, 0],
        ],
    )


# --- the audit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "disclosed"),
    [
        (3.0, 3.0, True),
        (3.0, 3.0 + 1e-12, True),  # solver round-off
        (2.2, 2.8, True),  # no whole number at all: cannot happen with consistent totals
        (2.5, 3.5, True),  # only 3 is possible: as good as published
        (2.0, 3.0, False),
        (0.0, math.inf, False),
    ],
)
def test_a_cell_is_disclosed_when_fewer_than_two_whole_numbers_are_possible(low, high, disclosed):
    assert Interval(("T", "r", "c"), low, high).is_disclosed is disclosed


def test_the_one_pass_rule_gives_horizon_other_away_through_a_published_zero_total():
    table = horizon_referrals()
    tables = TableSet((table,), share_row_totals=False)
    hidden = one_pass_rule(table)
    # The old rule partnered Horizon × OTHER with the 0 in UNKNOWN, whose column total is 0.
    assert {("HORIZON", "OTHER"), ("HORIZON", "UNKNOWN")} <= hidden
    intervals = d.audit(tables, published(tables, {table.name: hidden}))
    horizon_other = intervals[(table.name, "HORIZON", "OTHER")]
    assert horizon_other.is_disclosed
    assert horizon_other.low == pytest.approx(3) == horizon_other.high


def test_the_audit_reads_only_published_figures():
    table = horizon_referrals()
    tables = TableSet((table,), share_row_totals=False)
    hidden = {("HORIZON", "OTHER"), ("HORIZON", "MIXED"), ("BBR", "OTHER"), ("BBR", "MIXED")}
    shown = published(tables, {table.name: hidden})
    intervals = d.audit(tables, shown, exact=True)
    assert set(intervals) == {(table.name, *p) for p in hidden}
    assert intervals[(table.name, "HORIZON", "OTHER")].low == pytest.approx(0)
    assert intervals[(table.name, "HORIZON", "OTHER")].high == pytest.approx(9)
    assert not any(i.is_disclosed for i in intervals.values())


def test_a_hidden_row_total_shown_in_a_linked_table_is_known():
    gender = Table.from_grid("GENDER", ("BBR", "TSP"), ("MALE", "FEMALE"), [[3, 0], [40, 12]])
    age = Table.from_grid("AGE_BAND", ("BBR", "TSP"), ("18-24", "25+"), [[1, 2], [20, 32]])
    tables = TableSet((gender, age))
    hidden = {
        "GENDER": {("BBR", "MALE"), ("BBR", TOTAL), ("TSP", "MALE"), ("TSP", TOTAL)},
        "AGE_BAND": {("BBR", "18-24"), ("BBR", "25+"), ("BBR", TOTAL), ("TSP", TOTAL)},
    }
    shown = published(tables, hidden)
    # BBR's total is one figure in both tables (hidden in both), but the age table's column
    # totals and TSP's shown ages pin it: BBR = 3, so BBR × MALE = 3 in the gender table.
    intervals = d.audit(tables, shown)
    assert intervals[("GENDER", "BBR", "MALE")].is_disclosed
    assert intervals[(d.SHARED, "BBR", TOTAL)].is_disclosed


def test_tables_that_do_not_add_up_are_refused_with_the_line_named():
    table = horizon_referrals()
    counts = dict(table.counts)
    counts[("HORIZON", TOTAL)] += 1
    broken = Table(table.name, table.rows, table.columns, counts)
    with pytest.raises(ValueError, match=r"does not add up: the total at \('HORIZON', 'ALL'\)"):
        d.protect(TableSet((broken,), share_row_totals=False))


def test_linked_tables_must_agree_on_their_row_totals():
    gender = Table.from_grid("GENDER", ("BBR",), ("MALE", "FEMALE"), [[3, 5]])
    age = Table.from_grid("AGE_BAND", ("BBR",), ("18-24", "25+"), [[3, 6]])
    with pytest.raises(ValueError, match="the total of row 'BBR' is 8"):
        TableSet((gender, age))


# --- protect ---------------------------------------------------------------------------------


def test_protect_hides_the_cheapest_non_zero_rectangle_for_horizon_other():
    table = horizon_referrals()
    tables = TableSet((table,), share_row_totals=False)
    protection = d.protect(tables)
    name = table.name
    assert protection.primary == [(name, "HORIZON", "OTHER")]
    # Horizon × MIXED (7), BBR × OTHER (6) and BBR × MIXED (11): the smallest non-zero counts
    # that let Horizon × OTHER move; no zero, no total.
    assert set(protection.secondary) == {
        (name, "HORIZON", "MIXED"), (name, "BBR", "OTHER"), (name, "BBR", "MIXED"),
    }
    assert protection.disclosed == []
    interval = protection.intervals[(name, "HORIZON", "OTHER")]
    assert (interval.low, interval.high) == (pytest.approx(0), pytest.approx(9))


def test_protect_hides_a_total_only_when_a_total_is_what_needs_protecting():
    # OTHER has 2 people in all: its column total (2) is itself small, and only another figure
    # of the total row can move with it.
    table = Table.from_grid(
        "GENDER", ("BBR", "KAIZEN", "TSP"), ("MALE", "FEMALE", "OTHER"),
        [[150, 30, 2], [90, 14, 0], [200, 41, 0]],
    )
    protection = d.protect(TableSet((table,), share_row_totals=False))
    totals = [c for c in protection.secondary if TOTAL in c[1:]]
    assert totals and all(c[1] == TOTAL for c in totals)
    assert protection.disclosed == []
    # Without a small total, no total is hidden.
    plain = d.protect(TableSet((horizon_referrals(),), share_row_totals=False))
    assert not [c for c in plain.secondary if TOTAL in c[1:]]


def test_a_row_total_is_hidden_in_every_linked_table_or_in_none():
    gender = Table.from_grid(
        "GENDER", ("BBR", "HORIZON", "TSP"), ("MALE", "FEMALE"), [[60, 20], [3, 0], [90, 30]]
    )
    age = Table.from_grid(
        "AGE_BAND", ("BBR", "HORIZON", "TSP"), ("18-24", "25+"), [[30, 50], [0, 3], [70, 50]]
    )
    frame = frame_of(TableSet((gender, age)))
    out = d.suppress_cells(frame)
    horizon_totals = out[(out.row_key == "HORIZON") & (out.column_key == TOTAL)]
    assert list(horizon_totals.count_suppression) == ["PRIMARY", "PRIMARY"]
    shared = out[(out.column_key == TOTAL) & out.count_suppression.notna()]
    assert shared.groupby("row_key").size().eq(2).all()
    assert d.audit_published(mask(frame, out)).passed


def test_protect_is_deterministic_and_ignores_the_frames_row_order():
    frame = frame_of(random_tables(random.Random(3), n_rows=8, n_columns=6))
    first = d.suppress_cells(frame)
    again = d.suppress_cells(frame.sample(frac=1.0, random_state=5))
    assert first.equals(again)


def test_no_hidden_cell_primary_or_secondary_can_be_worked_out():
    for seed in range(12):
        tables = random_tables(random.Random(seed), n_rows=5, n_columns=4)
        protection = d.protect(tables)
        hidden = protection.primary + protection.secondary
        assert set(protection.intervals) == set(hidden)
        assert protection.disclosed == []
        for cell in protection.released:  # shown again: the audit pinned them anyway
            assert protection.status(cell) is None


@pytest.mark.parametrize(
    ("n_rows", "n_columns", "seeds"),
    [(2, 2, range(20)), (4, 3, range(12)), (10, 6, range(4)), (10, 8, range(2))],
)
def test_no_suppressed_count_can_be_worked_out_in_random_tables(n_rows, n_columns, seeds):
    one_pass_failures = 0
    for seed in seeds:
        tables = random_tables(random.Random(seed), n_rows, n_columns)
        frame = frame_of(tables)
        out = d.suppress_cells(frame)
        report = d.audit_published(mask(frame, out))
        assert report.passed, [f.line() for f in report.findings]
        assert report.suppressed >= sum(d.is_small(v) for v in tables.values().values())
        for table in tables.tables:
            old = one_pass_rule(table)
            alone = TableSet((table,), share_row_totals=False)
            one_pass_failures += any(
                i.is_disclosed
                for i in d.audit(alone, published(alone, {table.name: old})).values()
            )
    if n_rows * n_columns >= 12:
        assert one_pass_failures > 0  # the tables are hard enough to defeat the old rule


# --- helpers ---------------------------------------------------------------------------------


def random_tables(rng: random.Random, n_rows: int, n_columns: int) -> TableSet:
    """Two linked tables (same rows and row totals) with many zeros and small counts."""
    rows = tuple(f"I{r:02d}" for r in range(n_rows))
    grids = []
    totals = [rng.choice([0, 1, 3, 8, 20, 60, 150]) for _ in rows]
    for _ in range(2):
        grid = []
        for total in totals:
            weights = [rng.random() ** 3 for _ in range(n_columns)]
            line = [0] * n_columns
            for _ in range(total):
                line[rng.choices(range(n_columns), weights)[0]] += 1
            grid.append(line)
        grids.append(grid)
    return TableSet((
        Table.from_grid("A", rows, tuple(f"A{c}" for c in range(n_columns)), grids[0]),
        Table.from_grid("B", rows, tuple(f"B{c}" for c in range(n_columns)), grids[1]),
    ))


def frame_of(tables: TableSet) -> pd.DataFrame:
    """A table set as the rows the dbt model reads (one year and count)."""
    records = []
    for table in tables.tables:
        for r, row in enumerate(table.all_rows()):
            for c, column in enumerate(table.all_columns()):
                records.append({
                    "period_type": "YEAR", "period": "2025-26", "measure": "REFERRALS",
                    "dimension": table.name, "row_key": row, "column_key": column,
                    "row_order": r + 1, "column_order": c + 1,
                    "cell_count": table.counts[(row, column)],
                })
    return pd.DataFrame.from_records(records)


def mask(frame: pd.DataFrame, suppression: pd.DataFrame) -> pd.DataFrame:
    """The published cells: `shown_count` NULL where suppressed."""
    keys = [*d.SET_COLUMNS, d.TABLE_COLUMN, "row_key", "column_key"]
    out = frame.merge(suppression, on=keys, how="left", validate="one_to_one")
    out["shown_count"] = out["cell_count"].where(out["count_suppression"].isna())
    return out.drop(columns=["cell_count"])
