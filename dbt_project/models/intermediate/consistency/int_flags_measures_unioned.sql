-- The input of consistency_flags: one row per financial YEAR and QUARTER, intervention, measure
-- and seed LDU (zeros included), with the funnel's numerator and denominator:
--   COMPLETION_RATE    completions / (completions + non_completions)
--   TIMELY_START_RATE  timely_starts / starts
--   REFERRAL_RATIO     observed eligible referrals O / expected E (indirectly standardised)
with periods as (
    select * from {{ ref('int_periods_generated') }}
    where period_type in ('YEAR', 'QUARTER')
),

ldus as (
    select ldu_code from {{ ref('ldus') }}
),

interventions as (
    select intervention_code from {{ ref('interventions') }}
),

proportions as (
    -- the LDUs' counted events: the same counts ldu_intervention_measures publishes
    select * from {{ ref('int_usage_events_counted') }}
    where
        not is_division_total
        and period_type in ('YEAR', 'QUARTER')
),

ratios as (
    select * from {{ ref('int_flags_referrals_standardised') }}
),

measures as (
    select 'COMPLETION_RATE' as measure
    union all
    select 'TIMELY_START_RATE' as measure
    union all
    select 'REFERRAL_RATIO' as measure
),

spine as (
    select
        -- the period's columns, whatever the period model carries; final picks the published ones
        periods.*,
        interventions.intervention_code,
        measures.measure,
        ldus.ldu_code
    from periods
    cross join interventions
    cross join measures
    cross join ldus
),

final as (
    select
        spine.period_type,
        spine.period,
        spine.intervention_code,
        spine.measure,
        spine.ldu_code,
        cast(
            case spine.measure
                when 'COMPLETION_RATE' then coalesce(proportions.completions, 0)
                when 'TIMELY_START_RATE' then coalesce(proportions.timely_starts, 0)
                else coalesce(ratios.observed_referrals, 0)
            end as bigint
        ) as numerator,
        cast(
            case spine.measure
                when 'COMPLETION_RATE'
                    then coalesce(proportions.completions + proportions.non_completions, 0)
                when 'TIMELY_START_RATE' then coalesce(proportions.starts, 0)
                else coalesce(ratios.expected_referrals, 0)
            end as double
        ) as denominator,
        spine.period_start,
        spine.period_end,
        spine.is_partial
    from spine
    left join proportions
        on {{ equal_keys('spine', 'proportions', [
            'period_type', 'period', 'ldu_code', 'intervention_code',
        ]) }}
    left join ratios
        on {{ equal_keys('spine', 'ratios', [
            'period_type', 'period', 'ldu_code', 'intervention_code',
        ]) }}
)

select * from final
