-- Warning, never blocking: the LDUs out of line with the division at ALARM (outside the 99.8 %
-- funnel limits) in the latest financial YEAR and QUARTER, so that `dbt build` says how many
-- there are. The Dagster asset check on consistency_flags lists them with their values.
{{ config(severity='warn') }}

with flags as (
    select * from {{ ref('consistency_flags') }}
),

latest as (
    select
        period_type,
        max(period_start) as period_start
    from flags
    group by period_type
)

select
    flags.period_type,
    flags.period,
    flags.intervention_code,
    flags.measure,
    flags.ldu_code,
    flags.direction,
    flags.value,
    flags.division_value,
    flags.lower_998,
    flags.upper_998,
    flags.level_adjusted
from flags
inner join latest
    on
        flags.period_type = latest.period_type
        and flags.period_start = latest.period_start
where flags.level = 'ALARM'
