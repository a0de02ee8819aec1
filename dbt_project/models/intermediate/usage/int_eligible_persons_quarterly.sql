-- One row per financial quarter, LDU, intervention and person eligible for the intervention in
-- at least one of the LDU's caseload snapshots dated in the quarter, with the date and the
-- reoffending band of the latest such snapshot. The persons are counted here once: the eligible
-- caseload of the usage marts' quarters and years (a person in two LDUs once for the division),
-- the strata of the flags' REFERRAL_RATIO and the diversity mart's eligible caseload all roll up
-- from this table rather than each grouping the whole caseload again (docs/metrics.md).
-- The quarter's columns come first and each quarter is computed from its own snapshots alone,
-- so the table can be rebuilt quarter by quarter. Written so that DuckDB can spill it under the
-- memory cap (docs/benchmarks.md): a grouped max of the snapshot date, then an equality join
-- back on the caseload's key (snapshot_date, person_id) for its band; no arg_max or window.
with period_months as (
    select * from {{ ref('int_period_months_listed') }}
),

quarter_months as (
    -- each month of a reported quarter, with its quarter and its financial year
    select
        quarters.month_start,
        quarters.period as financial_quarter,
        years.period as financial_year
    from period_months as quarters
    inner join period_months as years
        on quarters.month_start = years.month_start
    where
        quarters.period_type = 'QUARTER'
        and years.period_type = 'YEAR'
),

eligible_snapshots as (
    select * from {{ ref('int_caseload_eligibility_joined') }}
),

snapshot_bands as (
    -- the band is the snapshot's, whichever intervention it makes the person eligible for
    select
        snapshot_date,
        person_id,
        reoffending_band
    from {{ ref('stg_caseload') }}
),

latest_snapshots as (
    select
        quarter_months.financial_quarter,
        quarter_months.financial_year,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id,
        max(eligible_snapshots.snapshot_date) as latest_snapshot_date
    from eligible_snapshots
    inner join quarter_months
        on {{ in_period_month('eligible_snapshots.snapshot_date', 'quarter_months') }}
    group by
        quarter_months.financial_quarter,
        quarter_months.financial_year,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id
),

final as (
    select
        latest_snapshots.financial_quarter,
        latest_snapshots.financial_year,
        latest_snapshots.ldu_code,
        latest_snapshots.intervention_code,
        latest_snapshots.person_id,
        latest_snapshots.latest_snapshot_date,
        snapshot_bands.reoffending_band
    from latest_snapshots
    inner join snapshot_bands
        on
            latest_snapshots.latest_snapshot_date = snapshot_bands.snapshot_date
            and latest_snapshots.person_id = snapshot_bands.person_id
)

select * from final
