-- One row per financial year and person on the caseload in it: the person's gender, ethnicity
-- group and age band in their latest caseload snapshot dated in the year, whichever LDU it is
-- in (METRICS.md, division_diversity_measures).
with caseload as (
    select * from {{ ref('stg_caseload') }}
),

year_months as (
    select * from {{ ref('int_period_months_listed') }}
    where period_type = 'YEAR'
),

ranked as (
    select
        year_months.period,
        caseload.person_id,
        caseload.snapshot_date,
        caseload.gender,
        caseload.ethnicity_group,
        caseload.age_band,
        row_number() over (
            partition by year_months.period, caseload.person_id
            order by caseload.snapshot_date desc
        ) as recency_rank
    from caseload
    inner join year_months
        on
            cast({{ dbt.date_trunc('month', 'caseload.snapshot_date') }} as date)
            = year_months.month_start
),

final as (
    select
        period,
        person_id,
        snapshot_date as latest_snapshot_date,
        gender,
        ethnicity_group,
        age_band
    from ranked
    where recency_rank = 1
)

select * from final
