-- Every delivered file and what happened to it (audit.loads), without checksums. A placeholder
-- row (file_name NULL) stands in when there are none, as Evidence writes no empty table.
with loads as (
    select
        file_name,
        extract,
        as_at_date,
        status,
        rows_read,
        rows_loaded,
        rows_quarantined,
        message,
        loaded_at
    from audit.loads
)

select * from loads
union all
select null, null, null, null, null, null, null, null, null
where not exists (select 1 from loads)
