-- The current completion of each referral: greatest recorded_at, ties broken as the macro
-- current_version_rank says (docs/contract.md).
with rows_delivered as (
    select * from {{ ref('stg_completions') }}
),

ranked as (
    select
        *,
        {{ current_version_rank('referral_id', 'recorded_at') }} as version_rank
    from rows_delivered
),

final as (
    select
        referral_id,
        person_id,
        intervention_code as completion_intervention_code,
        start_date as completion_start_date,
        end_date,
        outcome,
        outcome_reason,
        sessions_attended,
        sessions_required,
        recorded_at,
        case
            when outcome = 'COMPLETED' then 'COMPLETION'
            when outcome in ('TRANSFERRED', 'DECEASED') then 'NEUTRAL'
            else 'NON_COMPLETION'
        end as ending_type
    from ranked
    where version_rank = 1
)

select * from final
