-- The current consistency findings (reporting.current_findings, built by dbt, the one home of
-- the rule): ALARM and ALERT rows of the latest financial year and quarter. Evidence writes no
-- table for an empty result, so a placeholder row (level NULL) stands in when there are none;
-- pages read `where level is not null`.
with findings as (
    select
        period_type,
        period,
        period_start,
        is_partial,
        intervention_code,
        measure,
        ldu_code,
        level,
        direction,
        level_adjusted,
        value,
        division_value,
        limits_percent,
        lower_limit,
        upper_limit
    from reporting.current_findings
)

select * from findings
union all
select null, null, null, null, null, null, null, null, null, null, null, null, null, null, null
where not exists (select 1 from findings)
