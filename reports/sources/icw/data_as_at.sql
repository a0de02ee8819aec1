-- How current the data is: the latest as-at date among the extracts loaded (one row always).
select
    max(as_at_date) as as_at_date,
    max(case when extract = 'caseload' then as_at_date end) as caseload_as_at_date,
    max(loaded_at) as last_loaded_at
from audit.loads
where status = 'LOADED'
