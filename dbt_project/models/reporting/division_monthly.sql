-- The division's last 24 months to the reporting month, all interventions: counts are sums over
-- the interventions and rates come from the sums (docs/metrics.md). The front page's trend charts.
with division as (
    select * from {{ ref('division_intervention_measures') }}
),

periods as (
    select * from {{ ref('periods') }}
),

reporting_month as (
    select * from {{ ref('current_periods') }}
    where period_type = 'MONTH'
),

months as (
    select periods.period_start
    from periods
    cross join reporting_month
    where
        periods.period_type = 'MONTH'
        and periods.period_start
        > {{ dbt.dateadd('month', -24, 'reporting_month.period_start') }}
        and periods.period_start <= reporting_month.period_start
),

sums as (
    select
        months.period_start,
        {{ usage_sum_columns('division') }}
    from division
    inner join months on division.period_start = months.period_start
    where division.period_type = 'MONTH'
    group by months.period_start
),

final as (
    select
        period_start as month_start,
        cast(referrals as bigint) as referrals,
        cast(starts as bigint) as starts,
        cast(completions as bigint) as completions,
        cast(completions as double) / nullif(endings, 0) as completion_rate,
        cast(timely_starts as double) / nullif(starts, 0) as timely_start_rate
    from sums
)

select * from final
