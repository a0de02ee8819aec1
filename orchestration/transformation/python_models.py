"""What ICW's dbt Python models share: their result, typed and ordered as their YAML declares.

dbt-duckdb does not apply contracts to Python models, so each model states its published column
types and order (checked against its YAML by the blocking test `matches_declared_columns`) and
returns its computed frame through `typed_relation`. No Dagster here: dbt imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence


def typed_relation(session, frame, name: str, column_types: Sequence[tuple[str, str]],
                   order_by: str):
    """The frame as a DuckDB relation: the declared columns, cast to their types, in order.

    Rows are ordered so that a rebuild writes the same table, bit for bit.
    """
    session.register(name, frame)
    columns = ", ".join(f"cast({column} as {type_}) as {column}" for column, type_ in column_types)
    return session.sql(f"select {columns} from {name} order by {order_by}")
