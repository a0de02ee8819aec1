-- NOT_ON_CASELOAD (docs/metrics.md): a referral (current version) for a person who is in no
-- caseload snapshot of the referral's LDU dated in the calendar month before, the month of, or
-- the month after the month of its referral_date. One row per such referral, dated by
-- referral_date.
with referrals as (
    select * from {{ ref('int_referrals_current_selected') }}
),

caseload as (
    select * from {{ ref('stg_caseload') }}
),

windowed as (
    select
        referral_id,
        person_id,
        ldu_code,
        referral_date,
        cast(
            {{ dbt.dateadd('month', '-1', dbt.date_trunc('month', 'referral_date')) }} as date
        ) as window_start,
        {{ dbt.last_day(dbt.dateadd('month', '1', 'referral_date'), 'month') }} as window_end
    from referrals
),

on_caseload as (
    select distinct windowed.referral_id
    from windowed
    inner join caseload
        on
            windowed.person_id = caseload.person_id
            and windowed.ldu_code = caseload.ldu_code
            and caseload.snapshot_date between windowed.window_start and windowed.window_end
),

final as (
    select
        'NOT_ON_CASELOAD' as check_code,
        windowed.ldu_code,
        windowed.referral_id,
        windowed.referral_date as issue_date
    from windowed
    left join on_caseload
        on windowed.referral_id = on_caseload.referral_id
    where on_caseload.referral_id is null
)

select * from final
