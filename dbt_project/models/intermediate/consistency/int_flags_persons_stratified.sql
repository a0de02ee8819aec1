-- N(i, s) of the indirectly standardised REFERRAL_RATIO (docs/metrics.md): per financial YEAR and
-- QUARTER, LDU, intervention and reoffending band, the persons eligible for the intervention in
-- the LDU's snapshots dated in the period. A person counts once per LDU, in the band of their
-- latest eligible snapshot in the period in that LDU. Snapshots meet periods through their month
-- (an equality join).
-- Written so that DuckDB can spill it under the memory cap (docs/benchmarks.md, Never failing
-- on memory): the latest snapshot is a grouped max of its date, then an equality join back on
-- the eligible snapshot's key (snapshot_date, person_id, intervention_code) gives its band. An
-- arg_max over the whole caseload kept its per-person states in memory, and national refreshes
-- failed with DuckDB's Out of Memory Error here.
with period_months as (
    select * from {{ ref('int_period_months_listed') }}
    where period_type in ('YEAR', 'QUARTER')
),

eligible_snapshots as (
    select * from {{ ref('int_caseload_eligibility_joined') }}
),

snapshot_bands as (
    -- the same snapshots again, by their key: read twice, not held in memory between the reads
    select
        snapshot_date,
        person_id,
        intervention_code,
        reoffending_band
    from {{ ref('int_caseload_eligibility_joined') }}
),

latest_snapshots as (
    select
        period_months.period_type,
        period_months.period,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id,
        max(eligible_snapshots.snapshot_date) as snapshot_date
    from eligible_snapshots
    inner join period_months
        on {{ in_period_month('eligible_snapshots.snapshot_date', 'period_months') }}
    group by
        period_months.period_type,
        period_months.period,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id
),

latest_bands as (
    -- one row each: (snapshot_date, person_id) is the caseload's key and an intervention is
    -- listed once for a person's snapshot; the snapshot's LDU is the group's
    select
        latest_snapshots.period_type,
        latest_snapshots.period,
        latest_snapshots.ldu_code,
        latest_snapshots.intervention_code,
        snapshot_bands.reoffending_band
    from latest_snapshots
    inner join snapshot_bands using (snapshot_date, person_id, intervention_code)
),

final as (
    select
        period_type,
        period,
        ldu_code,
        intervention_code,
        reoffending_band,
        count(*) as eligible_persons
    from latest_bands
    group by
        period_type,
        period,
        ldu_code,
        intervention_code,
        reoffending_band
)

select * from final
