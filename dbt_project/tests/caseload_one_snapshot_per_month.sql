-- Each month has at most one caseload snapshot date (the contract dates snapshots at month
-- end). usage_measures counts a month's eligible rows as distinct persons, which is exact only
-- when this holds (and each person is in a snapshot once: unique_combination on stg_caseload).
-- Returns the months with more than one snapshot date.
with caseload as (
    select * from {{ ref('stg_caseload') }}
)

select
    cast({{ dbt.date_trunc('month', 'snapshot_date') }} as date) as snapshot_month,
    count(distinct snapshot_date) as snapshot_dates
from caseload
group by cast({{ dbt.date_trunc('month', 'snapshot_date') }} as date)
having count(distinct snapshot_date) > 1
