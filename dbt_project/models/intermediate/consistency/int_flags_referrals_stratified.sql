-- O(i, s) of the indirectly standardised REFERRAL_RATIO (docs/metrics.md): per financial YEAR and
-- QUARTER, LDU, intervention and reoffending band, the eligible referrals (current versions)
-- with referral_date in the period, each in its own band.
with periods as (
    select * from {{ ref('int_periods_generated') }}
    where period_type in ('YEAR', 'QUARTER')
),

referrals as (
    select * from {{ ref('int_referrals_started') }}
    where is_eligible
),

final as (
    select
        periods.period_type,
        periods.period,
        referrals.ldu_code,
        referrals.intervention_code,
        referrals.reoffending_band,
        count(*) as eligible_referrals
    from referrals
    inner join periods
        on referrals.referral_date between periods.period_start and periods.period_end
    group by
        periods.period_type,
        periods.period,
        referrals.ldu_code,
        referrals.intervention_code,
        referrals.reoffending_band
)

select * from final
