-- Within each financial year, intervention and dimension, the groups of
-- division_diversity_measures add up to the division's figures: every eligible person,
-- referral and ending is in exactly one group (UNKNOWN included), so none is lost to a group
-- missing from seed `diversity_groups`. Returns the cells that do not add up.
with groups_summed as (
    select
        period_type,
        period,
        intervention_code,
        dimension,
        sum(eligible_caseload) as eligible_caseload,
        sum(referrals) as referrals,
        sum(completions) as completions,
        sum(non_completions) as non_completions
    from {{ ref('division_diversity_measures') }}
    group by period_type, period, intervention_code, dimension
),

division as (
    select * from {{ ref('division_intervention_measures') }}
    where period_type = 'YEAR'
)

select
    division.period,
    division.intervention_code,
    groups_summed.dimension
from division
left join groups_summed
    on {{ equal_keys('division', 'groups_summed', [
        'period_type', 'period', 'intervention_code',
    ]) }}
where
    groups_summed.dimension is null
    or groups_summed.eligible_caseload <> division.eligible_caseload
    or groups_summed.referrals <> division.referrals
    or groups_summed.completions <> division.completions
    or groups_summed.non_completions <> division.non_completions
