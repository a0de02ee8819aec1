-- What changed since the last report (reporting.what_changed, built by dbt, the one home of the
-- rule): findings new, cleared and persisting, and past figures revised, with their reason.
-- The report adds the words a reader needs beside the codes: the LDU's and the intervention's
-- names, the measure's name, and "(to date)" on a period not yet over.
-- Evidence writes no table for an empty result, so a placeholder row (change_kind NULL) stands
-- in when nothing changed; pages read `where change_kind is not null`.
with changes as (
    select
        w.reporting_month,
        w.baseline_reporting_month,
        w.baseline_published_at,
        w.change_kind,
        w.ldu_code,
        l.ldu_name,
        w.intervention_code,
        i.intervention_name,
        w.measure,
        case w.measure
            when 'ELIGIBLE_CASELOAD' then 'Eligible caseload'
            when 'REFERRALS' then 'Referrals'
            when 'REFERRAL_RATE' then 'Referral rate (per 100 eligible)'
            when 'REFERRAL_RATIO' then 'Referrals against expected'
            when 'STARTS' then 'Starts'
            when 'COMPLETIONS' then 'Completions'
            when 'NON_COMPLETIONS' then 'Non-completions'
            when 'COMPLETION_RATE' then 'Completion rate'
            when 'TIMELY_STARTS' then 'Timely starts'
            when 'TIMELY_START_RATE' then 'Timely start rate'
            when 'MEDIAN_DAYS_TO_START' then 'Median days to start'
            else w.measure
        end as measure_name,
        w.period_type,
        w.period_now,
        w.period_before,
        coalesce(w.period_now, w.period_before)
        || case when p.is_partial then ' (to date)' else '' end as period_label,
        w.level_now,
        w.level_before,
        w.direction,
        w.consecutive_quarters,
        w.value_before,
        w.value_now,
        w.change,
        w.change_pct,
        w.reason,
        w.late_records,
        w.restated_records
    from reporting.what_changed as w
    left join marts.ldus as l on w.ldu_code = l.ldu_code
    left join marts.interventions as i on w.intervention_code = i.intervention_code
    left join marts.periods as p
        on w.period_type = p.period_type and coalesce(w.period_now, w.period_before) = p.period
)

select * from changes
union all
select
    null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
    null, null, null, null, null, null, null, null, null, null
where not exists (select 1 from changes)
