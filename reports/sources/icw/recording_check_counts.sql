-- Each recording check's records in the reporting month, the financial year and all months
-- (reporting.recording_check_counts, built by dbt).
select
    check_order,
    check_code,
    check_name,
    what_it_finds,
    reporting_month_records,
    year_to_date_records,
    all_months_records
from reporting.recording_check_counts
