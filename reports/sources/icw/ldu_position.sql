-- Each LDU against the division and the other LDUs, year to date, per headline measure
-- (reporting.ldu_position, built by dbt: figures, ranks and standing against target).
select
    ldu_code,
    measure,
    measure_order,
    ldu_value,
    division_value,
    rank_among_ldus,
    ldus,
    target_to_date,
    pct_of_target,
    green_targets,
    amber_targets,
    red_targets
from reporting.ldu_position
