-- Current referrals with their start: the referral's start_date, or where that is empty the
-- matched completion's start_date; days to start, timeliness and eligibility (docs/metrics.md).
with referrals as (
    select * from {{ ref('int_referrals_current_selected') }}
),

completions as (
    select * from {{ ref('int_completions_current_selected') }}
),

interventions as (
    select * from {{ ref('interventions') }}
),

eligibility as (
    select * from {{ ref('intervention_eligibility') }}
),

started as (
    select
        referrals.*,
        coalesce(referrals.start_date, completions.completion_start_date) as programme_start_date
    from referrals
    left join completions
        on {{ equal_keys('referrals', 'completions', ['referral_id']) }}
),

final as (
    select
        started.*,
        {{ dbt.datediff('started.referral_date', 'started.programme_start_date', 'day') }}
            as days_to_start,
        coalesce(
            {{ dbt.datediff('started.referral_date', 'started.programme_start_date', 'day') }}
            between 0 and interventions.max_days_to_start,
            false
        ) as is_timely_start,
        eligibility.intervention_code is not null as is_eligible
    from started
    left join interventions
        on {{ equal_keys('started', 'interventions', ['intervention_code']) }}
    -- eligibility.intervention_code is the seed's column (null where no row matched)
    left join eligibility
        on {{ equal_keys('started', 'eligibility', [
            'intervention_code', 'offence_category', 'reoffending_band',
        ]) }}
)

select * from final
