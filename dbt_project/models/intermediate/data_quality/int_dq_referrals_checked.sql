-- The recording checks of docs/metrics.md that look at a referral on its own (current
-- versions), one row per referral and check it fails, dated by its referral_date: not eligible
-- for its intervention, dated outside the intervention's validity (inclusive bounds; an empty
-- valid_to is open), or closed without the status_reason its status needs.
with referrals as (
    select * from {{ ref('int_referrals_started') }}
),

interventions as (
    select * from {{ ref('interventions') }}
),

checked as (
    select
        referrals.referral_id,
        referrals.ldu_code,
        referrals.referral_date as issue_date,
        not referrals.is_eligible as is_ineligible_referral,
        coalesce(
            referrals.referral_date < interventions.valid_from
            or referrals.referral_date > interventions.valid_to,
            false
        ) as is_outside_validity,
        referrals.status in ('NOT_SUITABLE', 'DESELECTED', 'WITHDRAWN')
        and coalesce(trim(referrals.status_reason), '') = '' as is_missing_reason
    from referrals
    left join interventions
        on referrals.intervention_code = interventions.intervention_code
),

unpivoted as (
    select
        referral_id,
        ldu_code,
        issue_date,
        'INELIGIBLE_REFERRAL' as check_code
    from checked
    where is_ineligible_referral
    union all
    select
        referral_id,
        ldu_code,
        issue_date,
        'OUTSIDE_VALIDITY' as check_code
    from checked
    where is_outside_validity
    union all
    select
        referral_id,
        ldu_code,
        issue_date,
        'MISSING_REASON' as check_code
    from checked
    where is_missing_reason
),

final as (
    select
        check_code,
        ldu_code,
        referral_id,
        issue_date
    from unpivoted
)

select * from final
