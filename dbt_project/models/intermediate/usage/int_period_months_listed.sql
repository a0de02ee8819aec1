-- One row per reported period and calendar month inside it: a month belongs to its own MONTH
-- period, its financial quarter and its financial year. Facts are matched to periods through
-- the month of their date (an equality join), which is exact because every period is made of
-- whole months, and much faster than a range join over every period.
with periods as (
    select * from {{ ref('int_periods_generated') }}
),

month_offsets as (
    select offset_list.month_offset
    from (
        values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11)
    ) as offset_list (month_offset)
),

listed as (
    select
        periods.period_type,
        periods.period,
        periods.period_end,
        cast(
            {{ dbt.dateadd('month', 'month_offsets.month_offset', 'periods.period_start') }}
            as date
        ) as month_start
    from periods
    cross join month_offsets
),

final as (
    select
        period_type,
        period,
        month_start
    from listed
    where month_start <= period_end
)

select * from final
