-- The reported periods: months from the earliest caseload snapshot to the reporting month (the
-- latest snapshot's month), and every financial quarter and year that overlaps them.
{% set text = dbt.type_string() -%}
with snapshots as (
    select
        cast({{ dbt.date_trunc('month', 'min(snapshot_date)') }} as date) as first_month,
        cast({{ dbt.date_trunc('month', 'max(snapshot_date)') }} as date) as last_month,
        max(snapshot_date) as last_snapshot_date
    from {{ ref('stg_caseload') }}
),

digits as (
    select digit_list.digit
    from (
        values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)
    ) as digit_list (digit)
),

month_offsets as (
    -- 0 to 999 months after the first snapshot's month (83 years): a month spine in plain SQL,
    -- where DuckDB's generate_series, Trino's sequence and Spark's explode all differ
    select hundreds.digit * 100 + tens.digit * 10 + units.digit as month_offset
    from digits as hundreds
    cross join digits as tens
    cross join digits as units
),

months as (
    select
        cast(
            {{ dbt.dateadd('month', 'month_offsets.month_offset', 'snapshots.first_month') }}
            as date
        ) as month_start,
        snapshots.last_snapshot_date
    from snapshots
    cross join month_offsets
    where
        month_offsets.month_offset
        <= {{ dbt.datediff('snapshots.first_month', 'snapshots.last_month', 'month') }}
),

labelled as (
    select
        month_start,
        {{ dbt.last_day('month_start', 'month') }} as month_end,
        last_snapshot_date,
        {{ dbt.last_day('last_snapshot_date', 'month') }} as reporting_month_end,
        -- financial year April to March: the year in which it starts, and its first day
        extract(year from month_start)
        - case when extract(month from month_start) < 4 then 1 else 0 end as fy_start_year,
        cast(
            {{ dbt.dateadd('month', '-((extract(month from month_start) + 8) % 12)',
                'month_start') }}
            as date
        ) as fy_start,
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
        {{ month_label('month_start') }} as period,
        month_start as period_start,
        month_end as period_end,
        reporting_month_end
    from labelled
),

quarter_periods as (
    select distinct
        'QUARTER' as period_type,
        cast(fy_start_year as {{ text }}) || '-'
        || {{ dbt.right('cast(fy_start_year + 1 as ' ~ text ~ ')', '2') }}
        || ' Q' || cast(fy_quarter as {{ text }}) as period,
        cast({{ dbt.dateadd('month', '3 * (fy_quarter - 1)', 'fy_start') }} as date)
            as period_start,
        cast(
            {{ dbt.dateadd('day', '-1', dbt.dateadd('month', '3 * fy_quarter', 'fy_start')) }}
            as date
        ) as period_end,
        reporting_month_end
    from labelled
),

year_periods as (
    select distinct
        'YEAR' as period_type,
        cast(fy_start_year as {{ text }}) || '-'
        || {{ dbt.right('cast(fy_start_year + 1 as ' ~ text ~ ')', '2') }} as period,
        fy_start as period_start,
        cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '12', 'fy_start')) }} as date)
            as period_end,
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
