"""The marts built on Spark (ICW_DBT_TARGET=spark): what crosses between DuckDB and Spark.

Ingestion, the checks and the publish stay on DuckDB; dbt builds the models on a local Spark
session (dbt_project/profiles.yml, target `spark`). Three hand-overs, each a plain function here
that the assets in orchestration/transformation/assets.py call (docs/spark.md):

- `export_sources`: the raw tables dbt's sources read, as Parquet, in one DuckDB read
  transaction. Only the columns the staging models select (`RAW_COLUMNS`): raw holds pseudonyms
  and age bands, and an explicit list keeps any column added later out. published_history too,
  so `what_changed` compares with the same publications as on DuckDB.
- `compute_statistics`: the three statistics dbt-duckdb computes in Python models (they need
  scipy), from the Parquet files of the Spark tables they read, with no Spark session (a second
  JVM would take ~25 s and fight dbt's for Derby's lock). The same functions as the Python
  models, the same column types (read from the models' own COLUMN_TYPES), the same order.
- `land_tables`: the tables Spark built into `marts_build` and `reporting_build`, copied into
  DuckDB's build schemas in one transaction, their types checked against the declared ones, so
  the existing checks and publish read them as they read DuckDB's own build.
"""

from __future__ import annotations

import ast
import contextlib
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from orchestration.core.resources import DBT_PROJECT_DIR
from orchestration.transformation.publish import PUBLISHED_SCHEMAS
from orchestration.transformation.python_models import typed_relation

TARGET = "spark"
#: the raw columns dbt's staging models select (models/staging/stg_*.sql); nothing else leaves
RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "referrals": (
        "referral_id", "person_id", "ldu_code", "intervention_code", "referral_date",
        "reoffending_band", "rosh_level", "offence_category", "status", "status_reason",
        "start_date", "last_updated_at", "as_at_date", "file_name", "line_number", "load_id",
    ),
    "completions": (
        "referral_id", "person_id", "intervention_code", "start_date", "end_date", "outcome",
        "outcome_reason", "sessions_attended", "sessions_required", "recorded_at", "as_at_date",
        "file_name", "line_number", "load_id",
    ),
    "caseload": (
        "snapshot_date", "person_id", "ldu_code", "sentence_type", "reoffending_band",
        "rosh_level", "offence_category", "gender", "ethnicity_group", "age_band", "file_name",
        "line_number", "load_id",
    ),
}
HISTORY_SCHEMA = "published_history"
#: the dbt Python models whose results the statistics asset computes off DuckDB
STATISTICS_MODELS = {
    "consistency_flags": "marts/consistency/consistency_flags.py",
    "funnel_limits": "reporting/funnel_limits.py",
    "diversity_count_suppression": "reporting/diversity_count_suppression.py",
}
#: the Spark tables the statistics read: int_flags_measures_unioned, and the exact diversity
#: counts stored as a table off DuckDB (models/reporting/portable/diversity_table_counts_stored)
FLAG_INPUT = ("intermediate", "int_flags_measures_unioned")
COUNTS_INPUT = ("intermediate", "diversity_table_counts_stored")
#: a YAML data_type (any target's spelling) -> the DuckDB type a landed column must have
DECLARED_TO_DUCKDB = {
    "string": "VARCHAR", "varchar": "VARCHAR", "text": "VARCHAR", "int": "INTEGER",
    "integer": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE", "date": "DATE",
    "boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "array<string>": "VARCHAR[]",
    "varchar[]": "VARCHAR[]", "array(varchar)": "VARCHAR[]",
}


class LandedTypeMismatch(RuntimeError):
    """A table Spark built does not have the column types its YAML declares."""


def sources_dir(spark_dir: Path) -> Path:
    """Where the Parquet sources live: <spark_dir>/sources/<schema>/<table>/."""
    return spark_dir / "sources"


def table_files(spark_dir: Path, schema: str, table: str) -> str:
    """The Parquet files of a Spark managed table (<warehouse>/<schema>.db/<table>/)."""
    folder = spark_dir / "warehouse" / f"{schema}.db" / table
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Spark has not built {schema}.{table} (no folder {folder}); run the dbt build first")
    return str(folder / "*.parquet")


def _write_parquet(con: duckdb.DuckDBPyConnection, query: str, folder: Path) -> None:
    """Replace folder by one Parquet file of the query's rows (written beside, then moved)."""
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    con.execute(f"copy ({query}) to '{staging / 'part-0.parquet'}' (format parquet)")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def export_sources(con: duckdb.DuckDBPyConnection, spark_dir: Path) -> dict[str, list[str]]:
    """Write raw.* (RAW_COLUMNS only) and published_history.* as Parquet; return what was written.

    The result, {schema: [table, ...]}, is the dbt var icw_spark_sources: what dbt registers.
    """
    root = sources_dir(spark_dir)
    written: dict[str, list[str]] = {"raw": []}
    con.begin()  # one snapshot of the warehouse for every file
    try:
        for table, columns in RAW_COLUMNS.items():
            _write_parquet(con, f"select {', '.join(columns)} from raw.{table}",
                           root / "raw" / table)
            written["raw"].append(table)
        shutil.rmtree(root / HISTORY_SCHEMA, ignore_errors=True)  # none left from older runs
        history = [name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_type = 'BASE TABLE' order by 1", [HISTORY_SCHEMA]).fetchall()]
        for table in history:
            _write_parquet(con, f'select * from {HISTORY_SCHEMA}."{table}"',
                           root / HISTORY_SCHEMA / table)
        if history:
            written[HISTORY_SCHEMA] = history
    finally:
        con.rollback()
    return written


def model_columns(model: str) -> tuple[tuple[str, str], ...]:
    """A statistics Python model's COLUMN_TYPES, read from its file (it is not importable)."""
    path = DBT_PROJECT_DIR / "models" / STATISTICS_MODELS[model]
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COLUMN_TYPES":
            return tuple(ast.literal_eval(node.value))
    raise ValueError(f"{path} declares no COLUMN_TYPES")


def _model_order(model: str) -> str:
    path = DBT_PROJECT_DIR / "models" / STATISTICS_MODELS[model]
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ORDER_BY":
            return ast.literal_eval(node.value)
    raise ValueError(f"{path} declares no ORDER_BY")


def compute_statistics(spark_dir: Path) -> dict[str, int]:
    """Flags, funnel limits and disclosure control from Spark's tables, as Parquet sources.

    As the dbt Python models do on DuckDB: the same inputs in the same order, the same
    functions (orchestration.statistics), the same typed, ordered result. Returns row counts.
    """
    from orchestration.statistics import disclosure
    from orchestration.statistics import flags as stats

    out = sources_dir(spark_dir) / "statistics"
    rows: dict[str, int] = {}
    with contextlib.closing(duckdb.connect()) as con:
        def save(model: str, frame) -> None:
            relation = typed_relation(con, frame, f"{model}_computed", model_columns(model),
                                      _model_order(model))
            _write_parquet(con, relation.sql_query(), out / model)
            rows[model] = len(frame)

        order = "period_type, period, intervention_code, measure, ldu_code"
        measures = con.sql(
            f"select * from read_parquet('{table_files(spark_dir, *FLAG_INPUT)}')").order(order)
        save("consistency_flags", stats.consistency_flags(measures.df()))
        flags = con.sql(
            f"select * from read_parquet('{out / 'consistency_flags' / '*.parquet'}')"
        ).order(order)
        save("funnel_limits", stats.funnel_limit_grid(flags.df()))
        cells = con.sql(
            f"select * from read_parquet('{table_files(spark_dir, *COUNTS_INPUT)}')"
        ).order(_model_order("diversity_count_suppression"))
        save("diversity_count_suppression", disclosure.suppress_cells(cells.df()))
    return rows


def built_tables(manifest: Mapping[str, Any], run_results: Mapping[str, Any]) -> list[dict]:
    """The models this dbt run built as tables in the build schemas (what DuckDB would publish).

    Views are never landed: `diversity_table_counts` (the unsuppressed counts) is one.
    """
    built = {r["unique_id"] for r in run_results.get("results", [])
             if r.get("status") == "success"}
    nodes = []
    for unique_id in sorted(built):
        node = manifest["nodes"].get(unique_id)
        if (node and node["resource_type"] == "model" and node["schema"] in PUBLISHED_SCHEMAS
                and node["config"].get("materialized") == "table"):
            nodes.append(node)
    return nodes


def _declared(node: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for name, column in node.get("columns", {}).items():
        declared = (column.get("data_type") or "").strip().lower()
        if declared:
            out[name.lower()] = DECLARED_TO_DUCKDB.get(declared, declared.upper())
    return out


def land_tables(con: duckdb.DuckDBPyConnection, spark_dir: Path,
                nodes: Iterable[Mapping[str, Any]]) -> list[str]:
    """Copy Spark's build tables into DuckDB's build schemas, in one transaction.

    Fails (LandedTypeMismatch), landing nothing, when a column's type differs from its YAML.
    """
    nodes = list(nodes)
    landed = []
    con.begin()
    try:
        for node in nodes:
            schema, table = node["schema"], node["alias"] or node["name"]
            con.execute(f"create schema if not exists {schema}")
            con.execute(
                f'create or replace table {schema}."{table}" as '
                f"select * from read_parquet('{table_files(spark_dir, schema, table)}')")
            actual = {name.lower(): type_ for name, type_ in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ?", [schema, table]).fetchall()}
            wrong = [f"{c} is {actual.get(c, 'missing')}, declared {t}"
                     for c, t in _declared(node).items() if actual.get(c) != t]
            if wrong:
                raise LandedTypeMismatch(
                    f"{schema}.{table} as Spark built it: {'; '.join(wrong)}; fix the model's "
                    "SQL or its YAML (docs/spark.md)")
            landed.append(f"{schema}.{table}")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return landed


def dbt_vars(base_vars: Sequence[str], spark_dir: Path,
             sources: Mapping[str, Sequence[str]]) -> list[str]:
    """The run's --vars (warehouse, home, memory) plus the Spark directory and its sources."""
    values = json.loads(base_vars[1]) if len(base_vars) == 2 else {}
    values.update(icw_spark_dir=str(spark_dir), icw_spark_sources=dict(sources))
    return ["--vars", json.dumps(values)]


def registered_sources(spark_dir: Path) -> dict[str, list[str]]:
    """Every Parquet source folder there is now: {schema: [table, ...]}."""
    root = sources_dir(spark_dir)
    return {
        schema.name: sorted(t.name for t in schema.iterdir()
                            if t.is_dir() and not t.name.endswith(".tmp"))
        for schema in sorted(root.iterdir()) if schema.is_dir()
    } if root.is_dir() else {}
