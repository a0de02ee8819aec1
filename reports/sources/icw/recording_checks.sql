-- What each recording check of marts.data_quality_issues finds, in words (reporting.recording_checks,
-- built by dbt: STALE_STATUS names the days the check itself uses). Every check is a warning: no
-- record is dropped from any measure.
select
    check_order,
    check_code,
    check_name,
    what_it_finds
from reporting.recording_checks
