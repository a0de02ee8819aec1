-- Is an LDU out of line with the division? One row per YEAR or QUARTER, intervention, measure
-- and LDU (docs/metrics.md); the funnel plots draw these points.
select
    period_type,
    period,
    intervention_code,
    measure,
    ldu_code,
    numerator,
    denominator,
    value,
    division_value,
    z_score,
    lower_95,
    upper_95,
    lower_998,
    upper_998,
    direction,
    level,
    phi,
    level_adjusted
from marts.consistency_flags
