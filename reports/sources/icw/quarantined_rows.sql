-- Quarantined rows counted by file and reason: the report shows no row's values (they are
-- personal data), only how many rows each file lost and why. A placeholder row (file_name
-- NULL, 0 rows) stands in when nothing was quarantined.
with counted as (
    select
        file_name,
        extract,
        reason_code,
        count(*) as row_count,
        min(line_number) as first_line,
        min(message) as example_message
    from audit.quarantined_rows
    group by file_name, extract, reason_code
)

select * from counted
union all
select null, null, null, 0, null, null
where not exists (select 1 from counted)
