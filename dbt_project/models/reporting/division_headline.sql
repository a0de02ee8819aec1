-- The division at a glance: for each headline measure, the division's figure in the reporting
-- month, the current quarter and the current year (current_periods), all interventions. Counts
-- are sums and rates come from the sums (docs/metrics.md). Against target, for the current year:
-- counts as the share of the targets pro-rated to date (where a target is set); rates as the
-- number of LDU and intervention pairs at each RAG status.
with division as (
    select * from {{ ref('division_intervention_measures') }}
),

targets as (
    select * from {{ ref('performance_against_target') }}
),

current_periods as (
    select * from {{ ref('current_periods') }}
),

span_sums as (
    select
        current_periods.period_type,
        {{ usage_sum_columns('division') }}
    from division
    inner join current_periods
        on
            division.period_type = current_periods.period_type
            and division.period = current_periods.period
    group by current_periods.period_type
),

measures as (
    select
        period_type,
        'REFERRALS' as measure,
        cast(referrals as double) as measure_value
    from span_sums
    union all
    select
        period_type,
        'STARTS' as measure,
        cast(starts as double) as measure_value
    from span_sums
    union all
    select
        period_type,
        'COMPLETIONS' as measure,
        cast(completions as double) as measure_value
    from span_sums
    union all
    select
        period_type,
        'COMPLETION_RATE' as measure,
        cast(completions as double) / nullif(endings, 0) as measure_value
    from span_sums
    union all
    select
        period_type,
        'TIMELY_START_RATE' as measure,
        cast(timely_starts as double) / nullif(starts, 0) as measure_value
    from span_sums
),

by_span as (
    select
        measure,
        max(case when period_type = 'MONTH' then measure_value end) as month_value,
        max(case when period_type = 'QUARTER' then measure_value end) as quarter_value,
        max(case when period_type = 'YEAR' then measure_value end) as year_value
    from measures
    group by measure
),

year_targets as (
    select
        targets.measure,
        {{ target_summary_columns('targets') }}
    from targets
    inner join current_periods
        on
            current_periods.period_type = 'YEAR'
            and targets.financial_year = current_periods.period
    group by targets.measure
),

final as (
    select
        by_span.measure,
        by_span.month_value,
        by_span.quarter_value,
        by_span.year_value,
        cast(year_targets.green_targets as bigint) as green_targets,
        cast(year_targets.amber_targets as bigint) as amber_targets,
        cast(year_targets.red_targets as bigint) as red_targets,
        case by_span.measure
            when 'REFERRALS' then 1
            when 'STARTS' then 2
            when 'COMPLETIONS' then 3
            when 'COMPLETION_RATE' then 4
            else 5
        end as measure_order,
        {{ target_share_columns('by_span.measure', 'year_targets') }}
    from by_span
    left join year_targets on by_span.measure = year_targets.measure
)

select * from final
