"""Spark builds the same published tables as DuckDB from the same delivery.

Every table of `marts` and `reporting`: the same columns and types, the same rows; integers,
codes, dates and text exactly, doubles to 1e-9.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]
SCHEMAS = ("marts", "reporting")
TOLERANCE = 1e-9


def tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """{schema.table: [(column, type), ...]} of the published schemas."""
    out: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, type_ in con.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        f"where table_schema in {SCHEMAS} order by table_schema, table_name, ordinal_position"
    ).fetchall():
        out.setdefault(f"{schema}.{table}", []).append((column, type_))
    return out


def rows(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]) -> list:
    """The table's rows, sorted by every column that is not a double, then by the doubles."""
    exact = [f'"{c}"' for c, t in columns if t not in ("DOUBLE", "FLOAT")]
    doubles = [f'"{c}"' for c, t in columns if t in ("DOUBLE", "FLOAT")]
    order = ", ".join(f"{c} nulls first" for c in exact + doubles)
    return con.execute(f"select * from {table} order by {order}").fetchall()


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(
            a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return a == b


def test_every_published_table_is_the_same_on_spark(refreshed_home: Path, spark_home: Path):
    duck = duckdb.connect(str(refreshed_home / "warehouse.duckdb"), read_only=True)
    spark = duckdb.connect(str(spark_home / "warehouse.duckdb"), read_only=True)
    try:
        expected, built = tables(duck), tables(spark)
        assert sorted(built) == sorted(expected)
        assert any(t.startswith("marts.") for t in expected)
        differences = []
        for table, columns in expected.items():
            if built[table] != columns:
                differences.append(f"{table}: columns {built[table]} != {columns}")
                continue
            want, got = rows(duck, table, columns), rows(spark, table, columns)
            if len(want) != len(got):
                differences.append(f"{table}: {len(got)} rows on Spark, {len(want)} on DuckDB")
                continue
            for i, (w, g) in enumerate(zip(want, got, strict=True)):
                bad = [f"{c}: {gv!r} != {wv!r}" for (c, _), wv, gv in zip(columns, w, g,
                                                                         strict=True)
                       if not same(wv, gv)]
                if bad:
                    differences.append(f"{table} row {i}: {'; '.join(bad[:4])}")
                    break
        assert not differences, "\n".join(differences)
    finally:
        duck.close()
        spark.close()
