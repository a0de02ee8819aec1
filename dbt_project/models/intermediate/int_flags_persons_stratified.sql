-- N(i, s) of the indirectly standardised REFERRAL_RATIO (METRICS.md): per financial YEAR and
-- QUARTER, LDU, intervention and reoffending band, the persons eligible for the intervention in
-- the LDU's snapshots dated in the period. A person counts once per LDU, in the band of their
-- latest eligible snapshot in the period in that LDU. (The latest date, then a join back for its
-- band: about twice as fast here as a row_number() window over every snapshot row.)
with periods as (
    select * from {{ ref('int_periods_generated') }}
    where period_type in ('YEAR', 'QUARTER')
),

eligible_snapshots as (
    select * from {{ ref('int_caseload_eligibility_joined') }}
),

latest_snapshots as (
    select
        periods.period_type,
        periods.period,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id,
        max(eligible_snapshots.snapshot_date) as snapshot_date
    from eligible_snapshots
    inner join periods
        on eligible_snapshots.snapshot_date between periods.period_start and periods.period_end
    group by
        periods.period_type,
        periods.period,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id
),

final as (
    select
        latest_snapshots.period_type,
        latest_snapshots.period,
        latest_snapshots.ldu_code,
        latest_snapshots.intervention_code,
        eligible_snapshots.reoffending_band,
        count(*) as eligible_persons
    from latest_snapshots
    -- (snapshot_date, person_id) is the caseload's key, so this finds exactly one row
    inner join eligible_snapshots
        on
            latest_snapshots.snapshot_date = eligible_snapshots.snapshot_date
            and latest_snapshots.person_id = eligible_snapshots.person_id
            and latest_snapshots.ldu_code = eligible_snapshots.ldu_code
            and latest_snapshots.intervention_code = eligible_snapshots.intervention_code
    group by
        latest_snapshots.period_type,
        latest_snapshots.period,
        latest_snapshots.ldu_code,
        latest_snapshots.intervention_code,
        eligible_snapshots.reoffending_band
)

select * from final
