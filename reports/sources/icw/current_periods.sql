-- The current periods (reporting.current_periods, built by dbt): the reporting month and the
-- latest financial quarter and year, one row each. Pages read "latest" from here.
select
    period_type,
    period,
    period_start,
    period_end,
    is_partial
from reporting.current_periods
