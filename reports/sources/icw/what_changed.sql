-- What changed since the last report (reporting.what_changed, built by dbt, the one home of the
-- rule): findings new, cleared and persisting, and past figures revised, with their reason.
-- The report adds, once for the overview and every scorecard, the words a reader needs beside
-- the codes (the LDU's, intervention's and measure's names, falling back to the code for one no
-- longer in the reference lists; "(to date)" on a period not yet over), how each value is
-- shown, and the order of the revised figures: by how far each moved against the figure last
-- published, largest first, so a printed page (which holds a table's first rows) holds those.
-- Evidence writes no table for an empty result, so a placeholder row (change_kind NULL) stands
-- in when nothing changed; pages read `where change_kind is not null`.
with named as (
    select
        w.*,
        coalesce(l.ldu_name, w.ldu_code) as ldu_name,
        coalesce(i.intervention_name, w.intervention_code) as intervention_name,
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
        coalesce(w.period_now, w.period_before)
        || case when p.is_partial then ' (to date)' else '' end as period_label
    from reporting.what_changed as w
    left join marts.ldus as l on w.ldu_code = l.ldu_code
    left join marts.interventions as i on w.intervention_code = i.intervention_code
    left join marts.periods as p
        on w.period_type = p.period_type and coalesce(w.period_now, w.period_before) = p.period
),

changes as (
    select
        reporting_month,
        baseline_reporting_month,
        baseline_published_at,
        change_kind,
        ldu_code,
        ldu_name,
        intervention_code,
        intervention_name,
        measure,
        measure_name,
        period_type,
        period_now,
        period_before,
        period_label,
        level_now,
        level_before,
        direction,
        consecutive_quarters,
        value_before,
        value_now,
        change,
        change_pct,
        reason,
        late_records,
        restated_records,
        case change_kind
            when 'FINDING_NEW' then 'New'
            when 'FINDING_CLEARED' then 'Cleared'
            when 'FINDING_PERSISTING' then 'Persisting'
        end as finding_status,
        case direction when 'HIGH' then 'higher' when 'LOW' then 'lower' end as direction_words,
        -- 0 (the latest quarter not flagged) reads as a blank, not as "0 quarters in a row"
        case when consecutive_quarters > 0 then consecutive_quarters end as quarters_in_a_row,
        case
            when measure in ('COMPLETION_RATE', 'TIMELY_START_RATE') then 'pct1'
            when measure in ('REFERRAL_RATE', 'MEDIAN_DAYS_TO_START') then 'num1'
            else 'num0'
        end as value_fmt,
        case
            when abs(change_pct) < 10 then printf('%+.1f%%', change_pct)
            else printf('%+.0f%%', change_pct)
        end as change_label,
        case when change_kind = 'FIGURE_REVISED' then row_number() over (
            partition by change_kind, ldu_code
            order by abs(change_pct) desc nulls last, abs(change) desc, period_type, period_now,
                lower(intervention_name), measure_name
        ) end as move_order
    from named
)

select * from changes
union all
select
    null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
    null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
    null
where not exists (select 1 from changes)
