-- Disclosure control is applied as decided (orchestration.statistics.disclosure): exactly the
-- counts of 1 to 4 are PRIMARY, and each row total, one figure in the year's three tables of a
-- count, is hidden in all of them or in none (else one table would give away what another hides).

with

cells as (
    select * from {{ ref('diversity_table_cells') }}
),

counts as (
    select * from {{ ref('diversity_table_counts') }}
),

primary_not_small as (
    select
        cells.period,
        cells.measure,
        cells.row_key,
        cells.column_key,
        'PRIMARY where the count is not 1 to 4, or not where it is' as problem
    from cells
    inner join counts
        on {{ equal_keys('cells', 'counts', [
            'period_type', 'period', 'dimension', 'measure', 'row_key', 'column_key',
        ]) }}
    where
        (counts.cell_count between 1 and 4)
        <> coalesce(cells.count_suppression = 'PRIMARY', false)
),

row_totals_differ as (
    select
        period,
        measure,
        row_key,
        'ALL' as column_key,
        'a row total hidden in some of its tables only' as problem
    from cells
    where is_total_column
    group by period_type, period, measure, row_key
    having count(distinct coalesce(count_suppression, 'SHOWN')) > 1
),

final as (
    select * from primary_not_small
    union all
    select * from row_totals_differ
)

select * from final
