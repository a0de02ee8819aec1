-- What changed since the last report (reporting.what_changed, built by dbt, the one home of the
-- rule): findings new, cleared and persisting, and past figures revised, with their reason.
-- Evidence writes no table for an empty result, so a placeholder row (change_kind NULL) stands
-- in when nothing changed; pages read `where change_kind is not null`.
with changes as (
    select
        reporting_month,
        baseline_reporting_month,
        baseline_published_at,
        change_kind,
        ldu_code,
        intervention_code,
        measure,
        period_type,
        period_now,
        period_before,
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
        restated_records
    from reporting.what_changed
)

select * from changes
union all
select
    null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
    null, null, null, null, null, null
where not exists (select 1 from changes)
