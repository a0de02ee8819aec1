-- The report's diversity tables, cell by cell, after disclosure control (issue 6, issue 10).
--
-- The tables and their order are `diversity_table_counts`'s; which counts are hidden is
-- `diversity_count_suppression`'s (orchestration.statistics.disclosure, docs/methods.md):
--   1. primary: a count of 1 to 4 is suppressed;
--   2. secondary: more cells are suppressed, round after round, until an intruder's audit
--      (the lowest and highest value each hidden count can take, given every shown count, the
--      totals and that counts are not negative) can work none of them out exactly;
--   3. a rate is suppressed when its denominator is under 10, or when its count is suppressed
--      (else rate × denominator gives the count back). Rates never cause count suppression.
-- Suppressed figures are NULL here and shown as `[c]`: the exact figures stay in the marts.

with

counts as (
    select * from {{ ref('diversity_table_counts') }}
),

suppression as (
    select * from {{ ref('diversity_count_suppression') }}
),

suppressed as (
    select
        counts.*,
        suppression.count_suppression
    from counts
    left join suppression
        on
            counts.period_type = suppression.period_type
            and counts.period = suppression.period
            and counts.measure = suppression.measure
            and counts.dimension = suppression.dimension
            and counts.row_key = suppression.row_key
            and counts.column_key = suppression.column_key
),

rated as (
    select
        suppressed.*,
        case
            when suppressed.rate_denominator < 10 then 'SMALL_DENOMINATOR'
            when suppressed.count_suppression is not null then 'COUNT_SUPPRESSED'
        end as rate_suppression,
        -- Referrals per 100 eligible people; completions as a proportion (docs/metrics.md).
        case suppressed.measure when 'REFERRALS' then 100.0 else 1.0 end
        * cast(suppressed.cell_count as double)
        / nullif(suppressed.rate_denominator, 0) as exact_rate
    from suppressed
),

final as (
    select
        period_type,
        period,
        dimension,
        measure,
        row_key,
        column_key,
        row_label,
        -- bigint on every engine: Spark's row_number() is an int, DuckDB's a bigint
        cast(row_order as bigint) as row_order,
        cast(column_order as bigint) as column_order,
        is_total_row,
        is_total_column,
        case when count_suppression is null then cell_count end as shown_count,
        case
            when count_suppression is not null then '[c]'
            else {{ format_count('cell_count') }}
        end as count_display,
        count_suppression,
        case when rate_suppression is null then exact_rate end as shown_rate,
        case
            when rate_suppression is not null then '[c]'
            when measure = 'REFERRALS' then {{ format_decimal('exact_rate', 1) }}
            else {{ format_decimal('100 * exact_rate', 1) }} || '%'
        end as rate_display,
        rate_suppression
    from rated
)

select * from final
