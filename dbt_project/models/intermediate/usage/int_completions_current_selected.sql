-- The current completion of each referral: greatest recorded_at, ties as for referrals.
with rows_delivered as (
    select * from {{ ref('stg_completions') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by referral_id
            order by recorded_at desc, as_at_date desc, file_name desc, line_number desc
        ) as version_rank
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
