-- The division's measures per period and intervention (docs/metrics.md): counts are sums over the
-- LDUs, rates come from the sums, and a person in two LDUs counts once in eligible_caseload.
select
    period_type,
    period,
    intervention_code,
    eligible_caseload,
    referrals,
    referral_rate,
    starts,
    completions,
    non_completions,
    completion_rate,
    timely_starts,
    timely_start_rate,
    median_days_to_start
from marts.division_intervention_measures
