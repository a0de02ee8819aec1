-- One row per period, LDU and intervention (docs/metrics.md). Counts and the denominators of the
-- rates are kept so that pages can add LDUs up and take rates from the sums.
select
    period_type,
    period,
    period_start,
    period_end,
    is_partial,
    ldu_code,
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
from marts.ldu_intervention_measures
