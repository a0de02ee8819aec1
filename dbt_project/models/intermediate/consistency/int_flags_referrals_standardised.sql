-- Indirect standardisation of referrals over reoffending-band strata (docs/metrics.md,
-- REFERRAL_RATIO), per financial YEAR and QUARTER, LDU and intervention:
--   division rate r(s) = sum_i O(i, s) / sum_i N(i, s), 0 when sum_i N(i, s) is 0;
--   expected E(i) = sum_s N(i, s) * r(s); observed O(i) = sum_s O(i, s).
-- Only (LDU, stratum) cells with persons or referrals appear; the union model adds the zeros.
with persons as (
    select * from {{ ref('int_flags_persons_stratified') }}
),

referrals as (
    select * from {{ ref('int_flags_referrals_stratified') }}
),

cells as (
    select
        -- the keys of the full join: the non-null side's
        coalesce(persons.period_type, referrals.period_type) as period_type,
        coalesce(persons.period, referrals.period) as period,
        coalesce(persons.ldu_code, referrals.ldu_code) as ldu_code,
        coalesce(persons.intervention_code, referrals.intervention_code) as intervention_code,
        coalesce(persons.reoffending_band, referrals.reoffending_band) as reoffending_band,
        coalesce(persons.eligible_persons, 0) as eligible_persons,
        coalesce(referrals.eligible_referrals, 0) as eligible_referrals
    from persons
    full outer join referrals
        on {{ equal_keys('persons', 'referrals', [
            'period_type', 'period', 'ldu_code', 'intervention_code', 'reoffending_band',
        ]) }}
),

division_rates as (
    select
        period_type,
        period,
        intervention_code,
        reoffending_band,
        case
            when sum(eligible_persons) = 0 then 0.0
            else cast(sum(eligible_referrals) as double) / sum(eligible_persons)
        end as division_rate
    from cells
    group by period_type, period, intervention_code, reoffending_band
),

final as (
    select
        cells.period_type,
        cells.period,
        cells.ldu_code,
        cells.intervention_code,
        cast(sum(cells.eligible_persons) as bigint) as eligible_persons,
        cast(sum(cells.eligible_referrals) as bigint) as observed_referrals,
        -- Summed as decimals, which add exactly: a sum of doubles depends on the order of its
        -- terms, which a parallel plan does not fix, and a re-run must give the same bits.
        cast(
            sum(cast(cells.eligible_persons * division_rates.division_rate as decimal(38, 18)))
            as double
        ) as expected_referrals
    from cells
    inner join division_rates
        on {{ equal_keys('cells', 'division_rates', [
            'period_type', 'period', 'intervention_code', 'reoffending_band',
        ]) }}
    group by cells.period_type, cells.period, cells.ldu_code, cells.intervention_code
)

select * from final
