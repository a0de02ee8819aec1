-- Warning, never blocking: the LDUs out of line with the division at ALARM (outside the 99.8 %
-- funnel limits) in the latest financial YEAR and QUARTER, so that `dbt build` says how many
-- there are. Which findings are current is decided once, in reporting/current_findings; the
-- Dagster asset check on consistency_flags lists them with their values. Shown in Dagster as a
-- check on consistency_flags, beside that one, as before the rule moved.
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'consistency_flags'}}}) }}

with findings as (
    select * from {{ ref('current_findings') }}
)

select
    period_type,
    period,
    intervention_code,
    measure,
    ldu_code,
    direction,
    value,
    division_value,
    lower_998,
    upper_998,
    level_adjusted
from findings
where level = 'ALARM'
