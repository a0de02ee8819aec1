"""What crosses between DuckDB and Spark: no personal column out, no unsuppressed count back.

Pure tests of orchestration/transformation/spark.py; they need neither Java nor pyspark.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from orchestration.core.resources import DBT_PROJECT_DIR
from orchestration.transformation import spark

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("table", sorted(spark.RAW_COLUMNS))
def test_the_export_holds_exactly_what_staging_selects(table):
    sql = (DBT_PROJECT_DIR / "models" / "staging" / f"stg_{table}.sql").read_text()
    selected = re.search(r"final as \(\s*select\s+(.*?)\s+from source", sql, re.S).group(1)
    assert tuple(c.strip().rstrip(",") for c in selected.split()) == spark.RAW_COLUMNS[table]
    assert not {"crn", "date_of_birth", "dob"} & set(spark.RAW_COLUMNS[table])


def node(name, schema, materialized, columns=None):
    return {"resource_type": "model", "name": name, "alias": name, "schema": schema,
            "config": {"materialized": materialized}, "columns": columns or {}}


def test_only_tables_of_the_build_schemas_are_landed():
    manifest = {"nodes": {
        "model.icw.a": node("a", "marts_build", "table"),
        "model.icw.diversity_table_counts": node("diversity_table_counts", "reporting_build",
                                                 "view"),
        "model.icw.i": node("i", "intermediate", "table"),
        "model.icw.failed": node("failed", "marts_build", "table"),
    }}
    results = {"results": [{"unique_id": u, "status": "error" if "failed" in u else "success"}
                           for u in manifest["nodes"]]}
    assert [n["name"] for n in spark.built_tables(manifest, results)] == ["a"]


def test_a_landed_type_that_differs_from_the_yaml_lands_nothing(tmp_path: Path):
    folder = tmp_path / "warehouse" / "marts_build.db" / "t"
    folder.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"copy (select 1 as n, 'x' as code) to '{folder / 'part-0.parquet'}'")
    good = node("t", "marts_build", "table", {"n": {"data_type": "int"},
                                             "code": {"data_type": "string"}})
    assert spark.land_tables(con, tmp_path, [good]) == ["marts_build.t"]
    con.execute("drop table marts_build.t")
    bad = node("t", "marts_build", "table", {"n": {"data_type": "bigint"}})
    with pytest.raises(spark.LandedTypeMismatch, match="n is INTEGER, declared BIGINT"):
        spark.land_tables(con, tmp_path, [bad])
    assert con.execute("select count(*) from information_schema.tables "
                       "where table_name = 't'").fetchone() == (0,)
