-- The periods the report and the findings call "current": the reporting month, and the latest
-- financial quarter and year (the ones with the latest start, partial or not; docs/methods.md,
-- Decisions 6). One row per period type; every consumer reads "latest" from here.
with periods as (
    select * from {{ ref('periods') }}
),

latest_starts as (
    select
        period_type,
        max(period_start) as period_start
    from periods
    group by period_type
),

final as (
    select
        periods.period_type,
        periods.period,
        periods.period_start,
        periods.period_end,
        periods.is_partial
    from periods
    inner join latest_starts
        on
            periods.period_type = latest_starts.period_type
            and periods.period_start = latest_starts.period_start
)

select * from final
