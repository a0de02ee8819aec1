-- The division's last 24 months, all interventions (reporting.division_monthly, built by dbt).
select
    month_start,
    referrals,
    starts,
    completions,
    completion_rate,
    timely_start_rate
from reporting.division_monthly
