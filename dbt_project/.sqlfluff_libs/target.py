"""A stand-in for dbt's `target`, for sqlfluff: the models are linted as DuckDB renders them."""

type = "duckdb"  # noqa: A001 (dbt's own attribute name)
name = "dev"
schema = "main"
