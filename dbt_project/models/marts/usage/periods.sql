-- The reported periods (docs/metrics.md, Periods): months, financial quarters and financial years.
with generated as (
    select * from {{ ref('int_periods_generated') }}
),

final as (
    select
        period_type,
        period,
        period_start,
        period_end,
        is_partial
    from generated
)

select * from final
