{{ config(alias="interventions") }}

-- The accredited programmes and structured interventions (seed `interventions`).
with seed as (
    select * from {{ ref('interventions') }}
),

final as (
    select
        intervention_code,
        intervention_name,
        intervention_type,
        intensity,
        sessions_required,
        max_days_to_start,
        eligible_gender,
        valid_from,
        valid_to
    from seed
)

select * from final
