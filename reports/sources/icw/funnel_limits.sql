-- The funnels' 95 % and 99.8 % limits over a grid of denominators, computed once by the code
-- that flags (reporting.funnel_limits); the report draws them and computes nothing. Only the
-- financial years are drawn.
select
    period_type,
    period,
    intervention_code,
    measure,
    division_value,
    grid_index,
    denominator,
    lower_95,
    upper_95,
    lower_998,
    upper_998
from reporting.funnel_limits
where period_type = 'YEAR'
