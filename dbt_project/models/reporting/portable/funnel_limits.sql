-- funnel_limits off DuckDB (docs/spark.md): the same table, computed by the Dagster asset
-- `statistics` (orchestration/transformation/spark.py) with the functions the dbt Python model
-- funnel_limits.py calls on DuckDB, and read back here from its Parquet file. Enabled only
-- where that Python model is not (dbt_project.yml); the columns are the Python model's.
-- depends_on: {{ ref('consistency_flags') }}
{{ config(materialized='table', tags=['statistics']) }}

select
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    cast(period as {{ dbt.type_string() }}) as period,
    cast(intervention_code as {{ dbt.type_string() }}) as intervention_code,
    cast(measure as {{ dbt.type_string() }}) as measure,
    cast(division_value as double) as division_value,
    cast(grid_index as integer) as grid_index,
    cast(denominator as double) as denominator,
    cast(lower_95 as double) as lower_95,
    cast(upper_95 as double) as upper_95,
    cast(lower_998 as double) as lower_998,
    cast(upper_998 as double) as upper_998
from {{ source('statistics', 'funnel_limits') }}
