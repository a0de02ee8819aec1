-- Warning, never blocking: one row per recording check that found anything, with its records
-- and LDUs, so that `dbt build` says how many checks fired. The Dagster asset check on
-- data_quality_issues reports the counts.
{{ config(severity='warn') }}

select
    check_code,
    sum(record_count) as records,
    count(distinct ldu_code) as ldus
from {{ ref('data_quality_issues') }}
group by check_code
