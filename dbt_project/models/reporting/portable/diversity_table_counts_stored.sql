-- diversity_table_counts as a table, off DuckDB only (docs/spark.md): the statistics asset reads
-- the exact counts from Parquet files, without a Spark session, and a view has none. In the
-- intermediate schema, so it is never landed or published: it holds the unsuppressed counts.
{{ config(materialized='table', schema='intermediate') }}

select * from {{ ref('diversity_table_counts') }}
