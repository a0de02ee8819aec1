-- One row per loaded referral version (every version kept), typed and named as the contract.
with source as (
    select * from {{ source('raw', 'referrals') }}
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
        file_name,
        line_number,
        load_id
    from source
)

select * from final
