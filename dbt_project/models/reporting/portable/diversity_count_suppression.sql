-- diversity_count_suppression off DuckDB (docs/spark.md): the same table, computed by the Dagster asset
-- `statistics` (orchestration/transformation/spark.py) with the functions the dbt Python model
-- diversity_count_suppression.py calls on DuckDB, and read back here from its Parquet file. Enabled only
-- where that Python model is not (dbt_project.yml); the columns are the Python model's.
-- depends_on: {{ ref('diversity_table_counts') }}
{{ config(materialized='table', tags=['statistics']) }}

select
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    cast(period as {{ dbt.type_string() }}) as period,
    cast(measure as {{ dbt.type_string() }}) as measure,
    cast(dimension as {{ dbt.type_string() }}) as dimension,
    cast(row_key as {{ dbt.type_string() }}) as row_key,
    cast(column_key as {{ dbt.type_string() }}) as column_key,
    cast(count_suppression as {{ dbt.type_string() }}) as count_suppression,
    cast(suppression_round as integer) as suppression_round
from {{ source('statistics', 'diversity_count_suppression') }}
