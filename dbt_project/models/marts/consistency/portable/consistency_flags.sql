-- consistency_flags off DuckDB (docs/spark.md): the same table, computed by the Dagster asset
-- `statistics` (orchestration/transformation/spark.py) with the functions the dbt Python model
-- consistency_flags.py calls on DuckDB, and read back here from its Parquet file. Enabled only
-- where that Python model is not (dbt_project.yml); the columns are the Python model's.
-- depends_on: {{ ref('int_flags_measures_unioned') }}
{{ config(materialized='table', tags=['statistics']) }}

select
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    cast(period as {{ dbt.type_string() }}) as period,
    cast(intervention_code as {{ dbt.type_string() }}) as intervention_code,
    cast(measure as {{ dbt.type_string() }}) as measure,
    cast(ldu_code as {{ dbt.type_string() }}) as ldu_code,
    cast(numerator as bigint) as numerator,
    cast(denominator as double) as denominator,
    cast(value as double) as value,
    cast(division_value as double) as division_value,
    cast(z_score as double) as z_score,
    cast(lower_95 as double) as lower_95,
    cast(upper_95 as double) as upper_95,
    cast(lower_998 as double) as lower_998,
    cast(upper_998 as double) as upper_998,
    cast(direction as {{ dbt.type_string() }}) as direction,
    cast(level as {{ dbt.type_string() }}) as level,
    cast(phi as double) as phi,
    cast(level_adjusted as {{ dbt.type_string() }}) as level_adjusted,
    cast(homogeneity_p_value as double) as homogeneity_p_value,
    cast(period_start as date) as period_start,
    cast(period_end as date) as period_end,
    cast(is_partial as boolean) as is_partial
from {{ source('statistics', 'consistency_flags') }}
