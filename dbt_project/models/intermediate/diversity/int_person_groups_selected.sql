-- sqlfluff:indentation:template_blocks_indent:False
-- One row per financial year and person on the caseload in it: the person's gender, ethnicity
-- group and age band in their latest caseload snapshot dated in the year, whichever LDU it is
-- in (docs/metrics.md, division_diversity_measures).
-- Written so that DuckDB can spill it under the memory cap (docs/benchmarks.md, Never failing
-- on memory): a grouped max of the snapshot date, then an equality join back on the caseload's
-- key (snapshot_date, person_id). A row_number over the whole caseload, partitioned by year and
-- person, failed national refreshes with DuckDB's Out of Memory Error.
-- Incremental by year (docs/benchmarks.md, Issue 12): a build deletes and inserts only the years
-- of the caseload files loaded since the table's watermark (built_from_load_id); a year is
-- computed from its own snapshots alone. A change to this SQL or upstream makes the refresh
-- rebuild every year (orchestration/transformation/incremental.py).
{#- Incremental on DuckDB only, where audit.loads is: on another engine (Spark, Athena) a
    plain table, rebuilt whole by every build (docs/portable-sql.md). -#}
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    incremental_strategy='delete+insert',
    unique_key='period',
) }}

with caseload as (
    select * from {{ ref('stg_caseload') }}
),

year_months as (
    select * from {{ ref('int_period_months_listed') }}
    where period_type = 'YEAR'
),

{% if incremental_build() %}
loaded_months as (
    {{ caseload_months_loaded_since_build() }}
),

changed_years as (
    select distinct year_months.period
    from year_months
    inner join loaded_months
        on year_months.month_start = loaded_months.month_start
),

years_to_build as (
    select year_months.*
    from year_months
    inner join changed_years
        on year_months.period = changed_years.period
),
{% else %}
years_to_build as (
    select * from year_months
),
{% endif %}

loaded as (
    {{ caseload_watermark() }}
),

latest_snapshots as (
    select
        years_to_build.period,
        caseload.person_id,
        max(caseload.snapshot_date) as snapshot_date
    from caseload
    inner join years_to_build
        on {{ in_period_month('caseload.snapshot_date', 'years_to_build') }}
    group by
        years_to_build.period,
        caseload.person_id
),

final as (
    select
        latest_snapshots.period,
        latest_snapshots.person_id,
        latest_snapshots.snapshot_date as latest_snapshot_date,
        caseload.gender,
        caseload.ethnicity_group,
        caseload.age_band,
        loaded.built_from_load_id
    from latest_snapshots
    cross join loaded
    inner join caseload
        on {{ equal_keys('latest_snapshots', 'caseload', ['snapshot_date', 'person_id']) }}
)

select * from final
