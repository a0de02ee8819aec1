-- The current version of each referral: greatest last_updated_at; ties go to the later as-at
-- date, then the greater file name, then the later line (EXTRACTS.md).
with versions as (
    select * from {{ ref('stg_referrals') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by referral_id
            order by last_updated_at desc, as_at_date desc, file_name desc, line_number desc
        ) as version_rank,
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
