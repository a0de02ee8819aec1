-- What each recording check of marts.data_quality_issues finds (docs/metrics.md), in words, for the
-- report's pages. STALE_STATUS names the project's var stale_status_days, the number the check
-- itself uses (int_dq_completions_checked), so the words and the check cannot disagree.
-- An apostrophe is chr(39): Spark reads 'LDU''s' as two adjacent literals, 'LDUs'.
with listed as (
    select
        1 as check_order,
        'ORPHAN_COMPLETION' as check_code,
        'Completion without a referral' as check_name,
        'A completion whose referral has not arrived. It counts in no measure.' as what_it_finds
    union all
    select
        2 as check_order,
        'INTERVENTION_MISMATCH' as check_code,
        'Completion for another intervention' as check_name,
        'A completion recorded against a '
        || 'different intervention than its referral.' as what_it_finds
    union all
    select
        3 as check_order,
        'STALE_STATUS' as check_code,
        'Status not updated' as check_name,
        'A referral still awaiting start or on programme '
        || '{{ var("stale_status_days") }}'
        || ' days or more after its completion ended.' as what_it_finds
    union all
    select
        4 as check_order,
        'START_BEFORE_REFERRAL' as check_code,
        'Start before referral' as check_name,
        'A start date (from the completion) earlier than the referral date.' as what_it_finds
    union all
    select
        5 as check_order,
        'SESSIONS_OVER_REQUIRED' as check_code,
        'More sessions than required' as check_name,
        'More sessions attended than the intervention requires.' as what_it_finds
    union all
    select
        6 as check_order,
        'INELIGIBLE_REFERRAL' as check_code,
        'Ineligible referral' as check_name,
        'A referral whose offence category and likelihood of reoffending are outside the '
        || 'intervention' || chr(39) || 's eligibility.' as what_it_finds
    union all
    select
        7 as check_order,
        'OUTSIDE_VALIDITY' as check_code,
        'Referral outside validity dates' as check_name,
        'A referral dated outside the dates the intervention was available.' as what_it_finds
    union all
    select
        8 as check_order,
        'MISSING_REASON' as check_code,
        'Missing reason' as check_name,
        'A not suitable, deselected or withdrawn referral without a reason.' as what_it_finds
    union all
    select
        9 as check_order,
        'NOT_ON_CASELOAD' as check_code,
        'Not on the LDU' || chr(39) || 's caseload' as check_name,
        'A referral for a person in none of the LDU' || chr(39)
        || 's caseload snapshots in the month '
        || 'before, of or after the referral.' as what_it_finds
),

final as (
    select
        check_order,
        check_code,
        check_name,
        what_it_finds
    from listed
)

select * from final
