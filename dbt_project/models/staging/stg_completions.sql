-- One row per loaded completion row (restatements included), as the delivery system sent it.
with source as (
    select * from {{ source('raw', 'completions') }}
),

final as (
    select
        referral_id,
        person_id,
        intervention_code,
        start_date,
        end_date,
        outcome,
        outcome_reason,
        sessions_attended,
        sessions_required,
        recorded_at,
        as_at_date,
        file_name,
        line_number,
        load_id
    from source
)

select * from final
