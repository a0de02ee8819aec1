-- The reported periods: months from the earliest caseload snapshot to the reporting month (the
-- latest snapshot's month), and every financial quarter and year that overlaps them.
with snapshots as (
    select
        min(snapshot_date) as first_snapshot_date,
        max(snapshot_date) as last_snapshot_date
    from {{ ref('stg_caseload') }}
),

months as (
    select
        cast(series.month_start as date) as month_start,
        cast(series.month_start + interval 1 month - interval 1 day as date) as month_end,
        snapshots.last_snapshot_date
    from snapshots,
        generate_series(
            date_trunc('month', snapshots.first_snapshot_date),
            date_trunc('month', snapshots.last_snapshot_date),
            interval 1 month
        ) as series (month_start)
),

labelled as (
    select
        month_start,
        month_end,
        last_snapshot_date,
        cast(date_trunc('month', last_snapshot_date) + interval 1 month - interval 1 day as date)
            as reporting_month_end,
        -- financial year April to March: the year in which it starts
        extract(year from month_start)
        - case when extract(month from month_start) < 4 then 1 else 0 end as fy_start_year,
        -- financial quarter: Q1 = April to June, ..., Q4 = January to March
        case
            when extract(month from month_start) between 4 and 6 then 1
            when extract(month from month_start) between 7 and 9 then 2
            when extract(month from month_start) between 10 and 12 then 3
            else 4
        end as fy_quarter
    from months
),

month_periods as (
    select
        'MONTH' as period_type,
        strftime(month_start, '%Y-%m') as period,
        month_start as period_start,
        month_end as period_end,
        reporting_month_end
    from labelled
),

quarter_periods as (
    select distinct
        'QUARTER' as period_type,
        cast(fy_start_year as varchar) || '-'
        || right(cast(fy_start_year + 1 as varchar), 2) || ' Q' || cast(fy_quarter as varchar)
            as period,
        cast(
            make_date(cast(fy_start_year as integer), 4, 1)
            + (fy_quarter - 1) * interval 3 month as date
        ) as period_start,
        cast(
            make_date(cast(fy_start_year as integer), 4, 1)
            + fy_quarter * interval 3 month - interval 1 day as date
        ) as period_end,
        reporting_month_end
    from labelled
),

year_periods as (
    select distinct
        'YEAR' as period_type,
        cast(fy_start_year as varchar) || '-' || right(cast(fy_start_year + 1 as varchar), 2)
            as period,
        make_date(cast(fy_start_year as integer), 4, 1) as period_start,
        make_date(cast(fy_start_year as integer) + 1, 3, 31) as period_end,
        reporting_month_end
    from labelled
),

unioned as (
    select * from month_periods
    union all
    select * from quarter_periods
    union all
    select * from year_periods
),

flagged as (
    select
        *,
        period_end > reporting_month_end as is_partial
    from unioned
),

final as (
    select
        period_type,
        period,
        period_start,
        period_end,
        is_partial,
        reporting_month_end
    from flagged
)

select * from final
