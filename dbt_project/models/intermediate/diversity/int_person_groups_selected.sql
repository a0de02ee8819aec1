-- One row per financial year and person on the caseload in it: the person's gender, ethnicity
-- group and age band in their latest caseload snapshot dated in the year, whichever LDU it is
-- in (docs/metrics.md, division_diversity_measures).
-- Written so that DuckDB can spill it under the memory cap (docs/benchmarks.md, Never failing
-- on memory): a grouped max of the snapshot date, then an equality join back on the caseload's
-- key (snapshot_date, person_id). A row_number over the whole caseload, partitioned by year and
-- person, failed national refreshes with DuckDB's Out of Memory Error.
with caseload as (
    select * from {{ ref('stg_caseload') }}
),

year_months as (
    select * from {{ ref('int_period_months_listed') }}
    where period_type = 'YEAR'
),

latest_snapshots as (
    select
        year_months.period,
        caseload.person_id,
        max(caseload.snapshot_date) as snapshot_date
    from caseload
    inner join year_months
        on {{ in_period_month('caseload.snapshot_date', 'year_months') }}
    group by
        year_months.period,
        caseload.person_id
),

final as (
    select
        latest_snapshots.period,
        latest_snapshots.person_id,
        latest_snapshots.snapshot_date as latest_snapshot_date,
        caseload.gender,
        caseload.ethnicity_group,
        caseload.age_band
    from latest_snapshots
    inner join caseload using (snapshot_date, person_id)
)

select * from final
