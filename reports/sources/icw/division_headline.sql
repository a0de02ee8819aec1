-- The division at a glance (reporting.division_headline, built by dbt): each headline measure in
-- the reporting month, quarter and year, with the year's standing against target.
select
    measure,
    measure_order,
    month_value,
    quarter_value,
    year_value,
    target_to_date,
    pct_of_target,
    green_targets,
    amber_targets,
    red_targets
from reporting.division_headline
