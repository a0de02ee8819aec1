"""Disclosure control for the report's tables: suppression that an intruder's audit cannot undo.

A published table (the report's diversity tables: a row per intervention and a total row, a
column per group and a total column) hides each count of 1 to 4 (primary suppression). Hiding
is not enough when the hidden count can be worked out from what is shown: the row and column
totals, the other cells and the fact that counts are not negative. The intruder's audit asks,
for each hidden cell, its lowest and highest possible value given everything published (a small
linear programme per set of linked tables, `scipy.optimize.linprog`); a cell is *disclosed* when
fewer than two whole numbers lie between them. `protect` hides more cells (complementary, or
secondary, suppression) until the audit finds nothing, preferring the smallest non-zero cells
and hiding a total only when nothing else protects (DESIGN_NOTES, Report).

Linked tables: tables that share figures are audited together. The report shows, for one year
and one count, a table per dimension (gender, ethnicity group, age band); each intervention's
total and the grand total are the same figures in all of them, so a total hidden in one table
is hidden in all, and what one table says about it constrains the others.

The audit relaxes whole numbers to real numbers. For one two-way table with its totals the
constraint matrix is totally unimodular, so the relaxed bounds are whole numbers and exactly the
intruder's (every whole number between them is possible); with tables linked by hidden totals,
the relaxed bounds may be wider than the whole-number ones, as in tau-ARGUS's audit.

Everything here is a pure function of the tables; the dbt model `diversity_count_suppression`
and the blocking asset check `no_suppressed_count_disclosed` only feed it frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
from scipy.optimize import linprog

TOTAL: Final = "ALL"
#: Counts from SMALL_COUNT_LOW to SMALL_COUNT_HIGH are primary-suppressed (a true 0 is shown).
SMALL_COUNT_LOW: Final = 1
SMALL_COUNT_HIGH: Final = 4
PRIMARY: Final = "PRIMARY"
SECONDARY: Final = "SECONDARY"
#: Bounds closer than this to a whole number count as that whole number (solver round-off).
TOLERANCE: Final = 1e-9
#: The figure shared by every table of a linked set (its row totals) is keyed by this table name.
SHARED: Final = "*"

#: A cell of a set of tables: (table, row, column); a shared row total has table SHARED.
Cell = tuple[Hashable, str, str]
#: A cell's value as published: a whole number, or None when it is suppressed.
Published = Mapping[Cell, "int | None"]


def is_small(count: int | None) -> bool:
    """Whether a count is primary-suppressed: 1 to 4 (zero and anything larger are shown)."""
    return count is not None and SMALL_COUNT_LOW <= count <= SMALL_COUNT_HIGH


@dataclass(frozen=True)
class Table:
    """One two-way table as shown: inner rows and columns in order, each with a total (TOTAL).

    `counts` maps (row, column) to the count, for every inner cell, each row's total
    (row, TOTAL), each column's total (TOTAL, column) and the grand total (TOTAL, TOTAL). A count
    is None where it is not known (a published table read back, with its suppressed cells).
    """

    name: Hashable
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: Mapping[tuple[str, str], int | None]

    @classmethod
    def from_grid(
        cls, name: Hashable, rows: Sequence[str], columns: Sequence[str],
        grid: Sequence[Sequence[int]],
    ) -> Table:
        """A table from its inner counts (a list per row), its totals added up."""
        counts: dict[tuple[str, str], int | None] = {}
        for row, line in zip(rows, grid, strict=True):
            for column, value in zip(columns, line, strict=True):
                counts[(row, column)] = int(value)
            counts[(row, TOTAL)] = int(sum(line))
        for j, column in enumerate(columns):
            counts[(TOTAL, column)] = int(sum(line[j] for line in grid))
        counts[(TOTAL, TOTAL)] = int(sum(sum(line) for line in grid))
        return cls(name=name, rows=tuple(rows), columns=tuple(columns), counts=counts)

    def all_rows(self) -> tuple[str, ...]:
        """The rows in the table's order, the total row last."""
        return (*self.rows, TOTAL)

    def all_columns(self) -> tuple[str, ...]:
        """The columns in the table's order, the total column last."""
        return (*self.columns, TOTAL)

    def positions(self) -> list[tuple[str, str]]:
        """Every (row, column) of the table in its order: row by row, totals last."""
        return [(r, c) for r in self.all_rows() for c in self.all_columns()]

    def lines(self) -> list[tuple[tuple[str, str], list[tuple[str, str]]]]:
        """Each row and column as (its total's position, its inner positions)."""
        out = [((r, TOTAL), [(r, c) for c in self.columns]) for r in self.all_rows()]
        out += [((TOTAL, c), [(r, c) for r in self.rows]) for c in self.all_columns()]
        return out

    def check_adds_up(self) -> None:
        """Raise ValueError naming the line when a known total is not the sum of its cells."""
        for total, parts in self.lines():
            values = [self.counts.get(p) for p in (total, *parts)]
            if any(v is None for v in values):
                continue
            if values[0] != sum(values[1:]):
                raise ValueError(
                    f"table {self.name!r} does not add up: the total at {total} is {values[0]}, "
                    f"its cells sum to {sum(values[1:])}; rebuild the table from its counts"
                )


@dataclass(frozen=True)
class TableSet:
    """Tables published together whose row totals are the same figures (see the module doc).

    With `share_row_totals`, every table must have the same rows and the same row totals; each
    row total (and the grand total) is one cell, (SHARED, row, TOTAL), hidden or shown in all.
    """

    tables: tuple[Table, ...]
    share_row_totals: bool = True

    def __post_init__(self) -> None:
        """Refuse tables whose shared totals differ (they would not be one figure)."""
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names) or SHARED in names:
            raise ValueError(f"table names must be distinct and not {SHARED!r}: {names}")
        if not self.share_row_totals or len(self.tables) < 2:
            return
        first = self.tables[0]
        for table in self.tables[1:]:
            if table.rows != first.rows:
                raise ValueError(
                    f"tables {first.name!r} and {table.name!r} share row totals but not rows"
                )
            for row in first.all_rows():
                a, b = first.counts.get((row, TOTAL)), table.counts.get((row, TOTAL))
                if a is not None and b is not None and a != b:
                    raise ValueError(
                        f"the total of row {row!r} is {a} in table {first.name!r} but {b} in "
                        f"{table.name!r}; the tables cannot be audited together"
                    )

    def cell(self, table: Table, row: str, column: str) -> Cell:
        """The cell at a table's (row, column): a shared row total is one cell for all tables."""
        if self.share_row_totals and column == TOTAL:
            return (SHARED, row, TOTAL)
        return (table.name, row, column)

    def cells(self) -> list[Cell]:
        """Every cell once, in a fixed order (table by table, row by row; ties break by it)."""
        seen: dict[Cell, None] = {}
        for table in self.tables:
            for row, column in table.positions():
                seen.setdefault(self.cell(table, row, column), None)
        return list(seen)

    def values(self) -> dict[Cell, int | None]:
        """Each cell's count (None where unknown)."""
        out: dict[Cell, int | None] = {}
        for table in self.tables:
            for (row, column), value in table.counts.items():
                key = self.cell(table, row, column)
                if out.get(key) is None:
                    out[key] = value
        return out

    def equations(self) -> list[tuple[Cell, tuple[Cell, ...]]]:
        """Every row and column of every table as (total cell, its inner cells), deduplicated."""
        seen: dict[tuple[Cell, tuple[Cell, ...]], None] = {}
        for table in self.tables:
            for (tr, tc), parts in table.lines():
                total = self.cell(table, tr, tc)
                seen.setdefault((total, tuple(self.cell(table, r, c) for r, c in parts)), None)
        return list(seen)

    def check_adds_up(self) -> None:
        """Raise ValueError when any table's known totals are not the sums of its cells."""
        for table in self.tables:
            table.check_adds_up()


@dataclass(frozen=True)
class Interval:
    """What an intruder can say of a suppressed cell: it lies between `low` and `high`."""

    cell: Cell
    low: float
    high: float

    @property
    def is_disclosed(self) -> bool:
        """Fewer than two whole numbers lie in [low, high]: the count is known exactly."""
        if math.isinf(self.high):
            return False
        return math.floor(self.high + TOLERANCE) - math.ceil(self.low - TOLERANCE) < 1


Row = tuple[tuple[tuple[Cell, int], ...], int]  # ((cell, coefficient), ...), constant


class _Auditor:
    """The intruder's linear programmes for one table set, cached by the system they solve.

    The system is split into independent parts (suppressed cells linked by a row or column);
    a part that a new suppression does not touch is not solved again. `exact` asks for every
    cell's true lowest and highest value; otherwise a cell that two solutions already show
    taking two whole numbers apart is not solved for (its interval is then the range seen, which
    lies inside the true one, and decides `is_disclosed` the same way).
    """

    def __init__(self, tables: TableSet) -> None:
        self.equations = tables.equations()
        self._cache: dict[tuple, dict[Cell, Interval]] = {}

    def intervals(
        self, published: Callable[[Cell], int], hidden: Collection[Cell],
        only: Cell | None = None, exact: bool = True,
    ) -> dict[Cell, Interval]:
        """Bounds of every hidden cell (or of `only`) from the published ones."""
        hidden = set(hidden)
        systems: list[Row] = []
        for total, parts in self.equations:
            # sum(hidden parts) - hidden total = published total - sum(published parts)
            terms = [(p, 1) for p in parts if p in hidden]
            if total in hidden:
                terms.append((total, -1))
            if not terms:
                continue
            constant = (0 if total in hidden else published(total)) - sum(
                published(p) for p in parts if p not in hidden
            )
            systems.append((tuple(sorted(terms, key=_order_key)), constant))
        parts_of = _components(hidden, [tuple(c for c, _ in terms) for terms, _ in systems])
        out: dict[Cell, Interval] = {}
        for component in parts_of:
            if only is not None and only not in component:
                continue
            members = set(component)
            rows = tuple(
                (terms, constant) for terms, constant in systems if terms[0][0] in members
            )
            wanted = (only,) if only is not None else tuple(component)
            key = (tuple(component), rows, wanted, exact)
            if key not in self._cache:
                self._cache[key] = _solve(component, rows, wanted, exact)
            out.update(self._cache[key])
        return out


def _order_key(term: tuple[Cell, int]) -> tuple[str, str, str]:
    cell = term[0]
    return (str(cell[0]), cell[1], cell[2])


def _components(cells: Iterable[Cell], links: Iterable[tuple[Cell, ...]]) -> list[list[Cell]]:
    """Group cells that share an equation (union-find), each group sorted, groups sorted."""
    parent = {c: c for c in cells}

    def find(c: Cell) -> Cell:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for link in links:
        for other in link[1:]:
            a, b = find(link[0]), find(other)
            if a != b:
                parent[b] = a
    groups: dict[Cell, list[Cell]] = {}
    for c in parent:
        groups.setdefault(find(c), []).append(c)
    return sorted(
        (sorted(g, key=lambda c: _order_key((c, 0))) for g in groups.values()),
        key=lambda g: _order_key((g[0], 0)),
    )


def _inconsistent(where: object, detail: str) -> ValueError:
    return ValueError(
        f"the published figures around {where} are inconsistent ({detail}); check that every "
        "total is the sum of its cells"
    )


def _peel(rows: Sequence[Row]) -> tuple[dict[Cell, float], list[Row]]:
    """The intruder's subtraction: a row or column with one hidden cell gives it away.

    Repeated until no such line is left; returns the cells found and the rows left over (with
    the found cells moved to the constant side).
    """
    fixed: dict[Cell, float] = {}
    remaining = list(rows)
    changed = True
    while changed:
        changed = False
        left: list[Row] = []
        for terms, constant in remaining:
            unknown = tuple((c, k) for c, k in terms if c not in fixed)
            rest = constant - sum(k * fixed[c] for c, k in terms if c in fixed)
            if not unknown:
                if abs(rest) > TOLERANCE:
                    raise _inconsistent(terms[0][0], f"a line is off by {rest:g}")
                continue
            if len(unknown) == 1:
                cell, coefficient = unknown[0]
                value = rest / coefficient
                if value < -TOLERANCE:
                    raise _inconsistent(cell, f"it would have to be {value:g}")
                fixed[cell] = value
                changed = True
                continue
            left.append((unknown, rest))
        remaining = left
    return fixed, remaining


def _solve(
    cells: Sequence[Cell], rows: Sequence[Row], wanted: Sequence[Cell], exact: bool
) -> dict[Cell, Interval]:
    """Lowest and highest value of each wanted cell, given the equations and non-negativity."""
    fixed, rows = _peel(rows)
    out = {c: Interval(c, fixed[c], fixed[c]) for c in wanted if c in fixed}
    free = [c for c in cells if c not in fixed]
    if not free or not set(wanted) - set(fixed):
        return out
    index = {c: i for i, c in enumerate(free)}
    a_eq = np.zeros((len(rows), len(free)))
    b_eq = np.zeros(len(rows))
    for i, (terms, constant) in enumerate(rows):
        for c, coefficient in terms:
            a_eq[i, index[c]] = coefficient
        b_eq[i] = constant
    seen_low = np.full(len(free), math.inf)
    seen_high = np.full(len(free), -math.inf)

    def optimum(objective: np.ndarray, where: object) -> float | None:
        """The minimum found by linprog (None when unbounded); its solution is kept."""
        if not rows:
            return None if objective.min() < 0 else 0.0
        result = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if result.status == 3:
            return None
        if result.status != 0:
            raise _inconsistent(where, f"linprog: {result.message}")
        np.minimum(seen_low, result.x, out=seen_low)
        np.maximum(seen_high, result.x, out=seen_high)
        return float(result.fun)

    if not exact:
        # Two solutions far apart first; most cells then need no programme of their own.
        for sign in (1.0, -1.0):
            optimum(np.full(len(free), sign), free[0])
    for c in wanted:
        if c in fixed:
            continue
        i = index[c]
        if not exact and seen_high[i] > -math.inf:
            seen = Interval(c, float(seen_low[i]), float(seen_high[i]))
            if not seen.is_disclosed:
                out[c] = seen
                continue
        objective = np.zeros(len(free))
        objective[i] = 1.0
        low = optimum(objective, c)
        objective[i] = -1.0
        high = optimum(objective, c)
        out[c] = Interval(c, 0.0 if low is None else low, math.inf if high is None else -high)
    return out


def audit(tables: TableSet, published: Published, exact: bool = False) -> dict[Cell, Interval]:
    """The intruder's bounds for every suppressed cell (value None) of a published table set.

    Only the published values are read: the audit knows what a reader of the report knows.
    A disclosed cell's interval is always exact (its one value). With `exact` so is every
    other's; without, a cell that two solutions already show taking values two whole numbers
    apart keeps the range seen (inside its true bounds), which is faster and decides the same.
    """
    hidden = [c for c in tables.cells() if published.get(c) is None]
    known = {c: v for c, v in published.items() if v is not None}
    return _Auditor(tables).intervals(lambda c: known[c], hidden, exact=exact)


@dataclass
class Protection:
    """The outcome of `protect`: which cells are hidden, why, and what an intruder can say."""

    primary: list[Cell]
    secondary: list[Cell]
    intervals: dict[Cell, Interval]
    rounds: int
    #: secondary cells the audit found determined anyway, shown again (hiding them hid nothing)
    released: list[Cell] = field(default_factory=list)

    def status(self, cell: Cell) -> str | None:
        """PRIMARY, SECONDARY or None (shown)."""
        if cell in self._primary_set:
            return PRIMARY
        if cell in self._secondary_set:
            return SECONDARY
        return None

    def __post_init__(self) -> None:
        """Index the lists for `status`."""
        self._primary_set = set(self.primary)
        self._secondary_set = set(self.secondary)

    @property
    def disclosed(self) -> list[Cell]:
        """Suppressed cells the final audit can work out exactly (empty after `protect`)."""
        return [c for c, i in self.intervals.items() if i.is_disclosed]


def protect(tables: TableSet, max_rounds: int = 10_000) -> Protection:
    """Primary suppression, then complementary suppression until the audit finds nothing.

    Each round takes the first primary cell, in the set's order, that the audit can work out,
    and hides the cheapest rectangle of cells that protects it: the cell's own row and column
    each get one more hidden cell, and the cell where that row and column cross closes the
    loop, so the four can move together (+1, -1, -1, +1) without changing any total. Cost, in
    order: the fewest totals, the fewest zeros (a hidden 0 can only move one way), the smallest
    sum of counts, the fewest new cells, then the table's order. The first rectangle that gives
    the cell two possible values wins; if none does alone, the cheapest that widens its
    interval is taken and the next round goes on. Secondary cells the final audit can work out
    exactly are shown again: hiding them hid nothing. Deterministic: the same tables give the
    same cells, bit for bit.

    Hiding more can only widen what an intruder can say, so a cell once safe stays safe; a
    cell is known safe without a linear programme when a rectangle of hidden cells can move it
    by one either way and leave every count non-negative (two whole values, both possible).
    The audit of the final set is a full one.
    """
    tables.check_adds_up()
    values = tables.values()
    order = {c: i for i, c in enumerate(tables.cells())}
    if any(v is None for v in values.values()):
        raise ValueError("protect needs every count of the tables; audit reads published ones")
    totals = {c for c in order if c[1] == TOTAL or c[2] == TOTAL}
    primary = [c for c in order if is_small(values[c])]
    hidden = set(primary)
    secondary: list[Cell] = []
    auditor = _Auditor(tables)
    moves = _Moves(tables, values)

    def published(c: Cell) -> int:
        return values[c]  # type: ignore[return-value]

    def cost(new: Collection[Cell]) -> tuple[int, int, int, int]:
        return _cost([values[c] for c in new], sum(c in totals for c in new))

    def is_safe(target: Cell, cells: set[Cell]) -> bool:
        if moves.can_move(target, cells):
            return True
        return not auditor.intervals(published, cells, only=target)[target].is_disclosed

    rounds = 0
    for target in primary:
        while not is_safe(target, hidden):
            rounds += 1
            if rounds > max_rounds:
                raise RuntimeError(f"disclosure control did not settle in {max_rounds} rounds")
            before = auditor.intervals(published, hidden, only=target)[target]
            candidates = sorted(
                (
                    (cost(new), place, new)
                    for place, new in enumerate(_rectangles(tables, target, hidden, order))
                ),
                key=lambda item: (item[0], item[1]),
            )
            if not candidates:
                raise RuntimeError(f"no cell is left to protect {target}; the table cannot show")
            chosen = None
            widening = None
            for _, _, new in candidates:
                if moves.can_move(target, hidden | set(new)):
                    chosen = new
                    break
                after = auditor.intervals(published, hidden | set(new), only=target)[target]
                if not after.is_disclosed:
                    chosen = new
                    break
                if widening is None and after.high - after.low > before.high - before.low:
                    widening = new
            chosen = chosen or widening or candidates[0][2]
            for c in chosen:
                hidden.add(c)
                secondary.append(c)

    intervals = auditor.intervals(published, hidden, exact=False)
    if any(intervals[c].is_disclosed for c in primary):  # cannot happen: safety only grows
        raise RuntimeError("disclosure control left a small count that can be worked out")
    released = [c for c in secondary if intervals[c].is_disclosed]
    if released:
        shown_again = auditor.intervals(published, hidden - set(released), exact=False)
        # Showing a figure the audit pins adds nothing, unless only its whole-number reading
        # pins it (tables linked by a hidden total): then keep it hidden if that matters.
        if any(shown_again[c].is_disclosed for c in primary):
            released = []
        else:
            hidden -= set(released)
            secondary = [c for c in secondary if c not in set(released)]
            intervals = shown_again
    return Protection(
        primary=primary, secondary=secondary, intervals=intervals, rounds=rounds,
        released=released,
    )


class _Moves:
    """Rectangles of hidden cells along which a cell's count can move without changing a total.

    The true counts are one solution of the published equations; a rectangle whose four cells
    are hidden gives another, one whole number up or down, when the cells it lowers are at
    least 1. A move must keep every equation of every linked table, so one through a shared
    row total is tried and refused when the other tables would notice.
    """

    def __init__(self, tables: TableSet, values: Mapping[Cell, int | None]) -> None:
        self.tables = tables
        self.values = values
        self.equations_of: dict[Cell, list[tuple[Cell, tuple[Cell, ...]]]] = {}
        for equation in tables.equations():
            total, parts = equation
            for cell in (total, *parts):
                self.equations_of.setdefault(cell, []).append(equation)
        self._moves: dict[Cell, list[dict[Cell, int]]] = {}

    def _all_moves(self, target: Cell) -> list[dict[Cell, int]]:
        """Every valid rectangle move through `target` (+1 at the target)."""
        if target in self._moves:
            return self._moves[target]
        found: list[dict[Cell, int]] = []
        for table in self.tables.tables:
            for i, j in table.positions():
                if self.tables.cell(table, i, j) != target:
                    continue
                for row in table.all_rows():
                    if row == i:
                        continue
                    row_sign = 1 if (row == TOTAL) != (i == TOTAL) else -1
                    for column in table.all_columns():
                        if column == j:
                            continue
                        column_sign = 1 if (column == TOTAL) != (j == TOTAL) else -1
                        move = {
                            target: 1,
                            self.tables.cell(table, i, column): column_sign,
                            self.tables.cell(table, row, j): row_sign,
                            self.tables.cell(table, row, column): row_sign * column_sign,
                        }
                        if len(move) == 4 and self._keeps_every_total(move):
                            found.append(move)
        self._moves[target] = found
        return found

    def _keeps_every_total(self, move: Mapping[Cell, int]) -> bool:
        touched = {e for cell in move for e in self.equations_of.get(cell, [])}
        return all(
            move.get(total, 0) == sum(move.get(p, 0) for p in parts) for total, parts in touched
        )

    def can_move(self, target: Cell, hidden: Collection[Cell]) -> bool:
        """Whether some rectangle of `hidden` cells moves `target` by one and stays possible."""
        for move in self._all_moves(target):
            if not all(c in hidden for c in move):
                continue
            for direction in (1, -1):
                if all(self.values[c] + direction * sign >= 0 for c, sign in move.items()):
                    return True
        return False


def _cost(counts: Sequence[int], totals: int) -> tuple[int, int, int, int]:
    """A rectangle's cost (lower is better): totals, zeros, counts hidden, cells hidden."""
    return (totals, sum(v == 0 for v in counts), sum(counts), len(counts))


def _rectangles(
    tables: TableSet, target: Cell, hidden: Collection[Cell], order: Mapping[Cell, int]
) -> list[tuple[Cell, ...]]:
    """Each rectangle through `target` in any table holding it, as its cells not yet hidden.

    In the set's order (table, then the other row, then the other column); rectangles that add
    nothing are left out, and each set of new cells appears once.
    """
    seen: dict[tuple[Cell, ...], None] = {}
    for table in tables.tables:
        for i, j in table.positions():
            if tables.cell(table, i, j) != target:
                continue
            for row in table.all_rows():
                if row == i:
                    continue
                for column in table.all_columns():
                    if column == j:
                        continue
                    corners = {
                        tables.cell(table, i, column),
                        tables.cell(table, row, j),
                        tables.cell(table, row, column),
                    }
                    new = tuple(sorted((c for c in corners if c not in hidden), key=order.get))
                    if new:
                        seen.setdefault(new, None)
    return list(seen)


# Frames: the dbt model and the asset check hand the tables over as rows of cells.

#: The columns that name a set of linked tables (one year and one count).
SET_COLUMNS: Final = ("period_type", "period", "measure")
TABLE_COLUMN: Final = "dimension"


def table_sets(
    cells: pd.DataFrame, value_column: str
) -> list[tuple[tuple, TableSet]]:
    """The frame's table sets, in a fixed order, with the values of `value_column`.

    `cells` has SET_COLUMNS, `dimension`, `row_key`, `column_key`, `row_order`, `column_order`
    and the value column (NaN or None where unknown); rows and columns go by their order.
    """
    out = []
    for set_key, frame in cells.groupby(list(SET_COLUMNS), sort=True, dropna=False):
        tables = []
        for dimension, table in frame.groupby(TABLE_COLUMN, sort=True):
            rows = (
                table.loc[table["row_key"] != TOTAL, ["row_order", "row_key"]]
                .drop_duplicates().sort_values(["row_order", "row_key"])["row_key"]
            )
            columns = (
                table.loc[table["column_key"] != TOTAL, ["column_order", "column_key"]]
                .drop_duplicates().sort_values(["column_order", "column_key"])["column_key"]
            )
            counts = {
                (r, c): (None if pd.isna(v) else int(v))
                for r, c, v in zip(
                    table["row_key"], table["column_key"], table[value_column], strict=True
                )
            }
            tables.append(
                Table(name=dimension, rows=tuple(rows), columns=tuple(columns), counts=counts)
            )
        out.append((tuple(set_key), TableSet(tuple(tables))))
    return out


def suppress_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Each cell's suppression: the cells' keys with `count_suppression` and `suppression_round`.

    `cells` holds every cell of the report's tables with its exact `cell_count` (see
    `table_sets`). `count_suppression` is PRIMARY, SECONDARY or None; `suppression_round` is 0
    for a primary cell, the round that hid a secondary one, else None.
    """
    records = []
    for set_key, tables in table_sets(cells, "cell_count"):
        protection = protect(tables)
        rounds = _rounds_of(protection)
        for table in tables.tables:
            for row, column in table.positions():
                cell = tables.cell(table, row, column)
                records.append(
                    (*set_key, table.name, row, column, protection.status(cell), rounds.get(cell))
                )
    out = pd.DataFrame.from_records(
        records,
        columns=[*SET_COLUMNS, TABLE_COLUMN, "row_key", "column_key", "count_suppression",
                 "suppression_round"],
    )
    out["suppression_round"] = out["suppression_round"].astype("Int64")
    return out


def _rounds_of(protection: Protection) -> dict[Cell, int]:
    """0 for primary cells; secondary cells numbered by the order they were hidden in."""
    out = {c: 0 for c in protection.primary}
    out.update({c: i + 1 for i, c in enumerate(protection.secondary)})
    return out


@dataclass(frozen=True)
class AuditFinding:
    """A suppressed cell of a published table that an intruder can work out."""

    set_key: tuple
    cell: Cell
    low: float
    high: float

    def line(self) -> str:
        """One line for a check's output."""
        table, row, column = self.cell
        where = " ".join(str(p) for p in self.set_key)
        table_name = "every table" if table == SHARED else str(table)
        return f"{where} {table_name}: row {row}, column {column} is exactly {self.low:g}"


@dataclass(frozen=True)
class AuditReport:
    """The intruder's audit of every published table set."""

    table_sets: int
    suppressed: int
    findings: tuple[AuditFinding, ...]

    @property
    def passed(self) -> bool:
        """No suppressed count can be worked out."""
        return not self.findings


def audit_published(cells: pd.DataFrame) -> AuditReport:
    """Audit published cells (`shown_count` NULL where suppressed) as an intruder would.

    Reads only what the report shows: the shown counts and where they sit in their tables.
    """
    findings = []
    suppressed = 0
    sets = table_sets(cells, "shown_count")
    for set_key, tables in sets:
        published = tables.values()
        tables.check_adds_up()
        for cell, interval in audit(tables, published).items():
            suppressed += 1
            if interval.is_disclosed:
                findings.append(AuditFinding(set_key, cell, interval.low, interval.high))
    return AuditReport(table_sets=len(sets), suppressed=suppressed, findings=tuple(findings))


#: What the audit reads of a published table: the shown counts and where they sit.
PUBLISHED_COLUMNS: Final = (
    *SET_COLUMNS, TABLE_COLUMN, "row_key", "column_key", "row_order", "column_order",
    "shown_count",
)


def read_published_cells(con, schema: str = "reporting_build") -> pd.DataFrame:
    """The diversity tables as built in `schema` (the build about to be published, by default).

    `con` is a DuckDB connection. Only the columns a reader of the report sees are read.
    """
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"not a schema name: {schema!r}")
    columns = ", ".join(PUBLISHED_COLUMNS)
    return con.execute(
        f"select {columns} from {schema}.diversity_table_cells "
        "order by period_type, period, measure, dimension, row_order, column_order"
    ).df()
