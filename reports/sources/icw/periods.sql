select
    period_type,
    period,
    period_start,
    period_end,
    is_partial
from marts.periods
