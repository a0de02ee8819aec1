-- One row per reported financial year, seed LDU, seed intervention and measure (STARTS,
-- COMPLETIONS, COMPLETION_RATE, TIMELY_START_RATE): the year's figure so far against its
-- target, pro-rated for counts, with a RAG rating (docs/metrics.md, performance_against_target).
{%- set tolerance = '1e-9' %}
with years as (
    select * from {{ ref('int_periods_generated') }}
    where period_type = 'YEAR'
),

ldus as (
    select ldu_code from {{ ref('ldus') }}
),

interventions as (
    select intervention_code from {{ ref('interventions') }}
),

targets as (
    select * from {{ ref('targets') }}
),

year_measures as (
    -- the YEAR rows of ldu_intervention_measures are the actuals, by definition
    select
        period as financial_year,
        ldu_code,
        intervention_code,
        starts,
        completions,
        completion_rate,
        timely_start_rate
    from {{ ref('ldu_intervention_measures') }}
    where period_type = 'YEAR'
),

measures as (
    select
        measure_list.measure,
        measure_list.is_count
    from (
        values
        ('STARTS', true),
        ('COMPLETIONS', true),
        ('COMPLETION_RATE', false),
        ('TIMELY_START_RATE', false)
    ) as measure_list (measure, is_count)
),

years_elapsed as (
    -- m: months from April to the reporting month, inclusive; 12 for a finished year
    select
        period as financial_year,
        period_start,
        period_end,
        is_partial,
        cast(least(
            12,
            {{ dbt.datediff('period_start', 'reporting_month_end', 'month') }} + 1
        ) as integer) as months_elapsed
    from years
),

spine as (
    select
        years_elapsed.*,
        ldus.ldu_code,
        interventions.intervention_code,
        measures.measure,
        measures.is_count
    from years_elapsed
    cross join ldus
    cross join interventions
    cross join measures
),

actuals as (
    select
        spine.*,
        cast(
            case spine.measure
                when 'STARTS' then year_measures.starts
                when 'COMPLETIONS' then year_measures.completions
                when 'COMPLETION_RATE' then year_measures.completion_rate
                when 'TIMELY_START_RATE' then year_measures.timely_start_rate
            end as double
        ) as actual
    from spine
    left join year_measures
        on {{ equal_keys('spine', 'year_measures', [
            'financial_year', 'ldu_code', 'intervention_code',
        ]) }}
),

targeted as (
    select
        actuals.*,
        cast(targets.target as double) as target,
        cast(
            case
                when actuals.is_count
                    then cast(targets.target as double) * actuals.months_elapsed / 12.0
                else targets.target
            end as double
        ) as target_to_date,
        targets.target is not null as has_target
    from actuals
    left join targets
        on {{ equal_keys('actuals', 'targets', [
            'financial_year', 'ldu_code', 'intervention_code', 'measure',
        ]) }}
),

final as (
    select
        financial_year,
        ldu_code,
        intervention_code,
        measure,
        actual,
        target,
        target_to_date,
        cast(actual as double) / nullif(target_to_date, 0) as pct_of_target,
        -- the first rule that applies; comparisons allow a tolerance of {{ tolerance }}
        case
            when not has_target then 'NO_TARGET'
            when actual is null then 'NO_DATA'
            when actual >= target_to_date - {{ tolerance }} then 'GREEN'
            when is_count and actual >= 0.9 * target_to_date - {{ tolerance }} then 'AMBER'
            when not is_count and actual >= target - 0.05 - {{ tolerance }} then 'AMBER'
            else 'RED'
        end as rag,
        period_start,
        period_end,
        is_partial,
        months_elapsed
    from targeted
)

select * from final
