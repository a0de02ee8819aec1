"""Disclosure control for the report's tables: suppression that an intruder's audit cannot undo.

A published table (the report's diversity tables: a row per intervention and a total row, a
column per group and a total column) hides each count of 1 to 4 (primary suppression). Hiding
is not enough when the hidden count can be worked out from what is shown: the row and column
totals, the other cells and the fact that counts are not negative. The intruder's audit asks,
for each hidden cell, its lowest and highest possible value given everything published (a small
linear programme per set of linked tables, `scipy.optimize.linprog`); a cell is *disclosed* when
fewer than two whole numbers lie between them. `protect` hides more cells (complementary, or
secondary, suppression) until the audit finds nothing, preferring the smallest non-zero cells
and hiding a total only when nothing else protects (docs/decisions.md, Reporting).

Linked tables: tables that share figures are audited together. The report shows, for one year
and one count, a table per dimension (gender, ethnicity group, age band); each intervention's
total and the grand total are the same figures in all of them, so a total hidden in one table
is hidden in all, and what one table says about it constrains the others.

The audit relaxes whole numbers to real numbers. For one two-way table with its totals the
constraint matrix is totally unimodular, so the relaxed bounds are whole numbers and exactly the
intruder's (every whole number between them is possible); with tables linked by hidden totals,
the relaxed bounds may be wider than the whole-number ones, as in tau-ARGUS's audit.

Everything here is a pure function of the tables; the dbt model `diversity_count_suppression`
and the blocking asset check `no_suppressed_count_disclosed` only feed it frames. The modules:
`tables` (the tables and cells), `audit` (the intruder's linear programmes), `protection`
(complementary suppression) and `published` (the frames those callers hand over); callers
import from this package, not from the modules.
"""

from orchestration.statistics.disclosure.audit import audit
from orchestration.statistics.disclosure.protection import Protection, protect
from orchestration.statistics.disclosure.published import (
    SET_COLUMNS,
    TABLE_COLUMN,
    AuditFinding,
    AuditReport,
    audit_published,
    read_published_cells,
    suppress_cells,
    table_sets,
)
from orchestration.statistics.disclosure.tables import (
    PRIMARY,
    SECONDARY,
    SHARED,
    TOTAL,
    Cell,
    Interval,
    Table,
    TableSet,
    is_small,
)

__all__ = [
    "PRIMARY",
    "SECONDARY",
    "SET_COLUMNS",
    "SHARED",
    "TABLE_COLUMN",
    "TOTAL",
    "AuditFinding",
    "AuditReport",
    "Cell",
    "Interval",
    "Protection",
    "Table",
    "TableSet",
    "audit",
    "audit_published",
    "is_small",
    "protect",
    "read_published_cells",
    "suppress_cells",
    "table_sets",
]
