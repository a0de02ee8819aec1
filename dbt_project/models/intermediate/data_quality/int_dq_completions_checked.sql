-- The recording checks of docs/metrics.md that look at a completion (current versions), one row per
-- completion and check it fails, dated by the completion's end_date. ldu_code is the current
-- referral's LDU (NULL for an orphan). "Today" is the latest caseload snapshot.
with completions as (
    select * from {{ ref('int_completions_matched') }}
),

reporting_date as (
    select max(snapshot_date) as today
    from {{ ref('stg_caseload') }}
),

checked as (
    select
        completions.referral_id,
        completions.ldu_code,
        completions.end_date as issue_date,
        completions.is_orphan as is_orphan_completion,
        not completions.is_orphan
        and completions.completion_intervention_code <> completions.intervention_code
            as is_intervention_mismatch,
        not completions.is_orphan
        and completions.referral_status in ('AWAITING_START', 'ON_PROGRAMME')
        and cast(
            {{ dbt.dateadd('day', var('stale_status_days'), 'completions.end_date') }} as date
        ) <= reporting_date.today
            as is_stale_status,
        not completions.is_orphan
        and completions.completion_start_date < completions.referral_date
            as is_start_before_referral,
        completions.sessions_attended > completions.sessions_required
            as is_sessions_over_required
    from completions
    cross join reporting_date
),

unpivoted as (
    select
        referral_id,
        ldu_code,
        issue_date,
        'ORPHAN_COMPLETION' as check_code
    from checked
    where is_orphan_completion
    union all
    select
        referral_id,
        ldu_code,
        issue_date,
        'INTERVENTION_MISMATCH' as check_code
    from checked
    where is_intervention_mismatch
    union all
    select
        referral_id,
        ldu_code,
        issue_date,
        'STALE_STATUS' as check_code
    from checked
    where is_stale_status
    union all
    select
        referral_id,
        ldu_code,
        issue_date,
        'START_BEFORE_REFERRAL' as check_code
    from checked
    where is_start_before_referral
    union all
    select
        referral_id,
        ldu_code,
        issue_date,
        'SESSIONS_OVER_REQUIRED' as check_code
    from checked
    where is_sessions_over_required
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
