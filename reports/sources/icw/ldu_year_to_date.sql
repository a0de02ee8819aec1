-- Each LDU's current financial year to date over all interventions, with its ALARM findings,
-- RED targets and recording problems (reporting.ldu_year_to_date, built by dbt).
select
    ldu_code,
    ldu_name,
    period,
    referrals,
    starts,
    completions,
    endings,
    completion_rate,
    timely_start_rate,
    alarm_findings,
    red_targets,
    recording_problems
from reporting.ldu_year_to_date
