"""The tables as published: cells, their counts and totals, and what an intruder can say of one.

A `Table` is one two-way table with its totals; a `TableSet` is the tables published together
whose row totals are the same figures, so that a shared total is one cell; an `Interval` is the
audit's answer for a hidden cell. See the package docstring for why tables are linked.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

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
