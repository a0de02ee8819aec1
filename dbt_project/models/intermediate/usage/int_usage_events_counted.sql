-- The usage events of docs/metrics.md, counted once for every model that reports them:
-- referrals (by referral_date), starts and timely starts (by programme start date), completions
-- and non-completions (by end_date; NEUTRAL endings count in neither), with the median days to
-- start, per reported period and intervention, for each LDU and for the division as a whole.
-- The usage marts (macro usage_measures) and the consistency funnels (int_flags_measures_unioned)
-- both read these counts, so a funnel's numerator and denominator are the published figures.
-- Only (period, LDU, intervention) combinations with an event appear; the readers add the zeros.
-- Events meet periods through the calendar month of their date (int_period_months_listed): an
-- equality join, exact because periods are whole months.
with period_months as (
    select * from {{ ref('int_period_months_listed') }}
),

referrals as (
    select * from {{ ref('int_referrals_started') }}
),

endings as (
    -- orphans (no referral yet) count in no measure
    select * from {{ ref('int_completions_matched') }}
    where not is_orphan
),

referral_events as (
    select
        period_months.period_type,
        period_months.period,
        referrals.ldu_code,
        referrals.intervention_code,
        1 as is_referral,
        0 as is_start,
        0 as is_timely_start,
        0 as is_completion,
        0 as is_non_completion,
        cast(null as bigint) as days_to_start
    from referrals
    inner join period_months
        on {{ in_period_month('referrals.referral_date', 'period_months') }}
),

start_events as (
    select
        period_months.period_type,
        period_months.period,
        referrals.ldu_code,
        referrals.intervention_code,
        0 as is_referral,
        1 as is_start,
        case when referrals.is_timely_start then 1 else 0 end as is_timely_start,
        0 as is_completion,
        0 as is_non_completion,
        -- the median is over the starts with days to start of 0 or more
        cast(
            case when referrals.days_to_start >= 0 then referrals.days_to_start end as bigint
        ) as days_to_start
    from referrals
    inner join period_months
        on {{ in_period_month('referrals.programme_start_date', 'period_months') }}
),

ending_events as (
    select
        period_months.period_type,
        period_months.period,
        endings.ldu_code,
        endings.intervention_code,
        0 as is_referral,
        0 as is_start,
        0 as is_timely_start,
        case when endings.ending_type = 'COMPLETION' then 1 else 0 end as is_completion,
        case when endings.ending_type = 'NON_COMPLETION' then 1 else 0 end as is_non_completion,
        cast(null as bigint) as days_to_start
    from endings
    inner join period_months
        on {{ in_period_month('endings.end_date', 'period_months') }}
),

events as (
    select * from referral_events
    union all
    select * from start_events
    union all
    select * from ending_events
),

final as (
    -- one grouping set per LDU and one for the division: the division counts every event,
    -- whatever its LDU, and its median is over all its starts (not a median of the LDUs')
    select
        period_type,
        period,
        ldu_code,
        intervention_code,
        cast(sum(is_referral) as bigint) as referrals,
        cast(sum(is_start) as bigint) as starts,
        cast(sum(is_timely_start) as bigint) as timely_starts,
        cast(sum(is_completion) as bigint) as completions,
        cast(sum(is_non_completion) as bigint) as non_completions,
        -- continuous median (NULLs are skipped)
        {{ median('days_to_start') }} as median_days_to_start,
        grouping(ldu_code) = 1 as is_division_total
    from events
    group by grouping sets (
        (period_type, period, ldu_code, intervention_code),
        (period_type, period, intervention_code)
    )
)

select * from final
