-- Blocking: the funnels are drawn from the same counts as ldu_intervention_measures. Both read
-- the events from int_usage_events_counted, so the proportions' numerators and denominators
-- (completions, completions + non_completions, timely_starts, starts) must come through the
-- union model and the Python model unchanged; the REFERRAL_RATIO's strata, counted by band in
-- int_flags_persons_stratified, must add up to its eligible caseload.
-- Returns the rows where the two disagree.
-- Shown in Dagster as a check on consistency_flags (it reads other models too).
{{ config(meta={'dagster': {'ref': {'name': 'consistency_flags'}}}) }}

with measures as (
    select * from {{ ref('ldu_intervention_measures') }}
    where period_type in ('YEAR', 'QUARTER')
),

flags as (
    select * from {{ ref('consistency_flags') }}
),

standardised as (
    select * from {{ ref('int_flags_referrals_standardised') }}
),

compared as (
    select
        flags.period_type,
        flags.period,
        flags.intervention_code,
        flags.ldu_code,
        flags.measure,
        flags.numerator,
        flags.denominator,
        case flags.measure
            when 'COMPLETION_RATE' then measures.completions
            when 'TIMELY_START_RATE' then measures.timely_starts
        end as expected_numerator,
        case flags.measure
            when 'COMPLETION_RATE' then measures.completions + measures.non_completions
            when 'TIMELY_START_RATE' then measures.starts
        end as expected_denominator
    from flags
    inner join measures
        on {{ equal_keys('flags', 'measures', [
            'period_type', 'period', 'intervention_code', 'ldu_code',
        ]) }}
    where flags.measure in ('COMPLETION_RATE', 'TIMELY_START_RATE')
),

caseload_compared as (
    select
        measures.period_type,
        measures.period,
        measures.intervention_code,
        measures.ldu_code,
        'REFERRAL_RATIO' as measure,
        cast(coalesce(standardised.eligible_persons, 0) as bigint) as numerator,
        cast(null as double) as denominator,
        measures.eligible_caseload as expected_numerator,
        cast(null as double) as expected_denominator
    from measures
    left join standardised
        on {{ equal_keys('measures', 'standardised', [
            'period_type', 'period', 'intervention_code', 'ldu_code',
        ]) }}
)

select * from compared
where
    numerator is distinct from expected_numerator
    or denominator is distinct from expected_denominator
union all
select * from caseload_compared
where numerator is distinct from expected_numerator
