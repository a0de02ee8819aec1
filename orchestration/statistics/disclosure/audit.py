"""The intruder's audit: each hidden cell's lowest and highest value, by linear programming.

The published equations (every row and column adds up to its total) and non-negativity are all
an intruder has. Lines with one hidden cell give it away by subtraction (`_peel`); what is left
is a small linear programme per linked part (`scipy.optimize.linprog`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence

import numpy as np
from scipy.optimize import linprog

from orchestration.statistics.disclosure.tables import (
    TOLERANCE,
    Cell,
    Interval,
    Published,
    TableSet,
)

Row = tuple[tuple[tuple[Cell, int], ...], int]  # ((cell, coefficient), ...), constant


class Auditor:
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
    return Auditor(tables).intervals(lambda c: known[c], hidden, exact=exact)
