"""The tables as frames: what the dbt model and the blocking asset check call.

The dbt model `diversity_count_suppression` hands over every cell with its exact count and gets
back each cell's suppression (`suppress_cells`); the asset check `no_suppressed_count_disclosed`
reads the built tables (`read_published_cells`) and audits what they show (`audit_published`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pandas as pd

from orchestration.statistics.disclosure.audit import audit
from orchestration.statistics.disclosure.protection import Protection, protect
from orchestration.statistics.disclosure.tables import SHARED, TOTAL, Cell, Table, TableSet

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
