-- sqlfluff:indentation:template_blocks_indent:False
-- The eligible caseload of docs/metrics.md for every reported period, LDU and intervention, and
-- for the division (is_division_total, no LDU): the denominators of both usage marts, zeros
-- included. A month counts the eligible rows of its snapshot (a person is in a month's snapshot
-- once, so rows are persons, and the division's count is its LDUs' summed); a quarter or a year
-- counts the persons of int_eligible_persons_quarterly, each once per LDU, and once for the
-- division however many LDUs they were in.
-- Incremental by period (docs/benchmarks.md, Issue 12): a build deletes and inserts only the
-- periods holding a month of the caseload files loaded since the table's watermark
-- (built_from_load_id, macros/incremental_periods.sql). Every period it builds has a row for
-- every LDU and intervention, zeros included, so a period whose persons are all gone replaces
-- its old rows too. A change to this SQL, a seed or a model upstream makes the refresh rebuild
-- every period (orchestration/transformation/incremental.py).
{#- Incremental on DuckDB only, where audit.loads is: on another engine (Spark, Athena) a
    plain table, rebuilt whole by every build (docs/portable-sql.md). -#}
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    incremental_strategy='delete+insert',
    unique_key=['period_type', 'period'],
) }}

with period_months as (
    select * from {{ ref('int_period_months_listed') }}
),

ldus as (
    select ldu_code from {{ ref('ldus') }}
),

interventions as (
    select intervention_code from {{ ref('interventions') }}
),

{% if incremental_build() %}
loaded_months as (
    {{ caseload_months_loaded_since_build() }}
),

periods_to_build as (
    select distinct
        period_months.period_type,
        period_months.period
    from period_months
    inner join loaded_months
        on period_months.month_start = loaded_months.month_start
),
{% else %}
periods_to_build as (
    select distinct
        period_type,
        period
    from period_months
),
{% endif %}

months_to_build as (
    select period_months.*
    from period_months
    inner join periods_to_build
        on
            period_months.period_type = periods_to_build.period_type
            and period_months.period = periods_to_build.period
    where period_months.period_type = 'MONTH'
),

monthly as (
    select
        months_to_build.period_type,
        months_to_build.period,
        eligible.ldu_code,
        eligible.intervention_code,
        count(*) as eligible_caseload
    from {{ ref('int_caseload_eligibility_joined') }} as eligible
    inner join months_to_build
        on {{ in_period_month('eligible.snapshot_date', 'months_to_build') }}
    group by
        months_to_build.period_type,
        months_to_build.period,
        eligible.ldu_code,
        eligible.intervention_code
),

quarters_to_build as (
    select period from periods_to_build
    where period_type = 'QUARTER'
),

years_to_build as (
    select period from periods_to_build
    where period_type = 'YEAR'
),

quarterly_persons as (
    select * from {{ ref('int_eligible_persons_quarterly') }}
),

ldu_quarters as (
    -- the LDU's quarter is already one row per person
    select
        'QUARTER' as period_type,
        quarterly_persons.financial_quarter as period,
        quarterly_persons.ldu_code,
        quarterly_persons.intervention_code,
        count(*) as eligible_caseload
    from quarterly_persons
    inner join quarters_to_build
        on quarterly_persons.financial_quarter = quarters_to_build.period
    group by
        quarterly_persons.financial_quarter,
        quarterly_persons.ldu_code,
        quarterly_persons.intervention_code
),

ldu_year_persons as (
    -- a plain distinct, then a count, which DuckDB spills under the memory cap
    select distinct
        quarterly_persons.financial_year as period,
        quarterly_persons.ldu_code,
        quarterly_persons.intervention_code,
        quarterly_persons.person_id
    from quarterly_persons
    inner join years_to_build
        on quarterly_persons.financial_year = years_to_build.period
),

division_quarter_persons as (
    select distinct
        quarterly_persons.financial_quarter as period,
        quarterly_persons.intervention_code,
        quarterly_persons.person_id
    from quarterly_persons
    inner join quarters_to_build
        on quarterly_persons.financial_quarter = quarters_to_build.period
),

division_year_persons as (
    select distinct
        quarterly_persons.financial_year as period,
        quarterly_persons.intervention_code,
        quarterly_persons.person_id
    from quarterly_persons
    inner join years_to_build
        on quarterly_persons.financial_year = years_to_build.period
),

ldu_counts as (
    select * from monthly
    union all
    select * from ldu_quarters
    union all
    select
        'YEAR' as period_type,
        period,
        ldu_code,
        intervention_code,
        count(*) as eligible_caseload
    from ldu_year_persons
    group by period, ldu_code, intervention_code
),

division_counts as (
    select
        period_type,
        period,
        intervention_code,
        sum(eligible_caseload) as eligible_caseload
    from monthly
    group by period_type, period, intervention_code
    union all
    select
        'QUARTER' as period_type,
        period,
        intervention_code,
        count(*) as eligible_caseload
    from division_quarter_persons
    group by period, intervention_code
    union all
    select
        'YEAR' as period_type,
        period,
        intervention_code,
        count(*) as eligible_caseload
    from division_year_persons
    group by period, intervention_code
),

ldu_rows as (
    select
        periods_to_build.period_type,
        periods_to_build.period,
        false as is_division_total,
        ldus.ldu_code,
        interventions.intervention_code,
        coalesce(ldu_counts.eligible_caseload, 0) as eligible_caseload
    from periods_to_build
    cross join ldus
    cross join interventions
    left join ldu_counts
        on
            periods_to_build.period_type = ldu_counts.period_type
            and periods_to_build.period = ldu_counts.period
            and ldus.ldu_code = ldu_counts.ldu_code
            and interventions.intervention_code = ldu_counts.intervention_code
),

division_rows as (
    select
        periods_to_build.period_type,
        periods_to_build.period,
        true as is_division_total,
        cast(null as {{ dbt.type_string() }}) as ldu_code,
        interventions.intervention_code,
        coalesce(division_counts.eligible_caseload, 0) as eligible_caseload
    from periods_to_build
    cross join interventions
    left join division_counts
        on
            periods_to_build.period_type = division_counts.period_type
            and periods_to_build.period = division_counts.period
            and interventions.intervention_code = division_counts.intervention_code
),

counted as (
    select * from ldu_rows
    union all
    select * from division_rows
),

loaded as (
    {{ caseload_watermark() }}
),

final as (
    select
        counted.period_type,
        counted.period,
        counted.is_division_total,
        counted.ldu_code,
        counted.intervention_code,
        cast(counted.eligible_caseload as bigint) as eligible_caseload,
        loaded.built_from_load_id
    from counted
    cross join loaded
)

select * from final
