-- marts.data_quality_issues (docs/metrics.md): one row per recording check, LDU and month with at
-- least one record, with the five smallest referral ids as examples. Warnings only: the checks
-- never drop a row from any measure.
with completion_issues as (
    select * from {{ ref('int_dq_completions_checked') }}
),

referral_issues as (
    select * from {{ ref('int_dq_referrals_checked') }}
),

caseload_issues as (
    select * from {{ ref('int_dq_caseload_presence_checked') }}
),

issues as (
    -- each check model's columns are check_code, ldu_code, referral_id, issue_date, in that order
    select * from completion_issues
    union all
    select * from referral_issues
    union all
    select * from caseload_issues
),

labelled as (
    select
        check_code,
        ldu_code,
        referral_id,
        {{ month_label('issue_date') }} as period
    from issues
),

ranked as (
    select
        *,
        row_number() over (
            partition by check_code, ldu_code, period
            order by referral_id nulls last
        ) as id_rank,
        count(*) over (partition by check_code, ldu_code, period) as record_count
    from labelled
),

final as (
    select
        check_code,
        ldu_code,
        period,
        cast(max(record_count) as bigint) as record_count,
        {{ sorted_array_agg('referral_id') }} as example_referral_ids
    from ranked
    where id_rank <= 5
    group by check_code, ldu_code, period
)

select * from final
order by check_code, ldu_code nulls last, period
