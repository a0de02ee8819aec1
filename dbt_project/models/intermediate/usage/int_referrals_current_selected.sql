-- The current version of each referral: greatest last_updated_at, ties broken as the macro
-- current_version_rank says (docs/contract.md).
with versions as (
    select * from {{ ref('stg_referrals') }}
),

ranked as (
    select
        *,
        {{ current_version_rank('referral_id', 'last_updated_at') }} as version_rank,
        count(*) over (partition by referral_id) as version_count
    from versions
),

final as (
    select
        referral_id,
        person_id,
        ldu_code,
        intervention_code,
        referral_date,
        reoffending_band,
        rosh_level,
        offence_category,
        status,
        status_reason,
        start_date,
        last_updated_at,
        as_at_date,
        version_count
    from ranked
    where version_rank = 1
)

select * from final
