-- Recording checks by check, LDU and month (docs/metrics.md): counts only, since the report is
-- shared (the example referral ids stay in the mart). A clean warehouse has none, and Evidence
-- writes no table for an empty result, so a placeholder row (check_code NULL) stands in when
-- there are none; pages read `where check_code is not null`.
with issues as (
    select
        check_code,
        ldu_code,
        period,
        record_count
    from marts.data_quality_issues
)

select * from issues
union all
select null, null, null, 0
where not exists (select 1 from issues)
