-- The counts behind the two proportion funnels of consistency_flags, per financial YEAR and
-- QUARTER, LDU and intervention: completions and non-completions (COMPLETION_RATE), starts and
-- timely starts (TIMELY_START_RATE). The rows and flags are those of ldu_intervention_measures
-- (the same intermediate models, the same period joins); a blocking test checks they agree.
with periods as (
    select * from {{ ref('int_periods_generated') }}
    where period_type in ('YEAR', 'QUARTER')
),

referrals as (
    select * from {{ ref('int_referrals_started') }}
),

endings as (
    select * from {{ ref('int_completions_matched') }}
    where not is_orphan
),

start_events as (
    select
        periods.period_type,
        periods.period,
        referrals.ldu_code,
        referrals.intervention_code,
        1 as is_start,
        case when referrals.is_timely_start then 1 else 0 end as is_timely_start,
        0 as is_completion,
        0 as is_non_completion
    from referrals
    inner join periods
        on referrals.programme_start_date between periods.period_start and periods.period_end
),

ending_events as (
    select
        periods.period_type,
        periods.period,
        endings.ldu_code,
        endings.intervention_code,
        0 as is_start,
        0 as is_timely_start,
        case when endings.ending_type = 'COMPLETION' then 1 else 0 end as is_completion,
        case when endings.ending_type = 'NON_COMPLETION' then 1 else 0 end as is_non_completion
    from endings
    inner join periods
        on endings.end_date between periods.period_start and periods.period_end
),

events as (
    select * from start_events
    union all
    select * from ending_events
),

final as (
    select
        period_type,
        period,
        ldu_code,
        intervention_code,
        cast(sum(is_completion) as bigint) as completions,
        cast(sum(is_non_completion) as bigint) as non_completions,
        cast(sum(is_start) as bigint) as starts,
        cast(sum(is_timely_start) as bigint) as timely_starts
    from events
    group by period_type, period, ldu_code, intervention_code
)

select * from final
