-- Current completions with the LDU and intervention of their referral. A completion belongs to
-- its matched referral's LDU and intervention; one without a referral is an orphan.
with completions as (
    select * from {{ ref('int_completions_current_selected') }}
),

referrals as (
    select * from {{ ref('int_referrals_current_selected') }}
),

final as (
    select
        completions.*,
        referrals.ldu_code,
        referrals.intervention_code,
        referrals.referral_date,
        referrals.status as referral_status,
        referrals.referral_id is null as is_orphan
    from completions
    left join referrals
        on completions.referral_id = referrals.referral_id
)

select * from final
