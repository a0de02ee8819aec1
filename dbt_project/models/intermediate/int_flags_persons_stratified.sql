-- N(i, s) of the indirectly standardised REFERRAL_RATIO (METRICS.md): per financial YEAR and
-- QUARTER, LDU, intervention and reoffending band, the persons eligible for the intervention in
-- the LDU's snapshots dated in the period. A person counts once per LDU, in the band of their
-- latest eligible snapshot in the period in that LDU: arg_max, in one pass, since
-- (snapshot_date, person_id) is the caseload's key. Snapshots meet periods through their month
-- (an equality join). At national scale this took 62 s as a range join on the period's dates
-- followed by a join back to the snapshot for its band.
with period_months as (
    select * from {{ ref('int_period_months_listed') }}
    where period_type in ('YEAR', 'QUARTER')
),

eligible_snapshots as (
    select * from {{ ref('int_caseload_eligibility_joined') }}
),

latest_bands as (
    select
        period_months.period_type,
        period_months.period,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id,
        arg_max(eligible_snapshots.reoffending_band, eligible_snapshots.snapshot_date)
            as reoffending_band
    from eligible_snapshots
    inner join period_months
        on
            cast({{ dbt.date_trunc('month', 'eligible_snapshots.snapshot_date') }} as date)
            = period_months.month_start
    group by
        period_months.period_type,
        period_months.period,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id
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
