"""Complementary suppression: hide more cells until the audit can work out no small count.

`protect` hides the small counts (primary suppression), then, round by round, the cheapest
rectangle of cells that lets each one move by a whole number without changing any total
(secondary suppression), and shows again any secondary cell the audit pins anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from orchestration.statistics.disclosure.audit import Auditor
from orchestration.statistics.disclosure.tables import (
    PRIMARY,
    SECONDARY,
    TOTAL,
    Cell,
    Interval,
    TableSet,
    is_small,
)


@dataclass
class Protection:
    """The outcome of `protect`: which cells are hidden, why, and what an intruder can say."""

    primary: list[Cell]
    secondary: list[Cell]
    intervals: dict[Cell, Interval]
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
    auditor = Auditor(tables)
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
        primary=primary, secondary=secondary, intervals=intervals, released=released,
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
