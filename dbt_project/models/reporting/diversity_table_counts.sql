-- sqlfluff:indentation:template_blocks_indent:False
-- The report's diversity tables, cell by cell, with their exact counts, before disclosure
-- control. A view, so it is never published: `reporting.diversity_table_cells` is.
--
-- Each table is one financial period, dimension and count (referrals or completions): a row per
-- intervention (by name), a column per group (in the seed's order), a total row ('ALL'
-- interventions) and a total column ('ALL' groups); beside each count is the denominator of its
-- rate (eligible people; completions plus non-completions). "The table's order", which breaks
-- ties in disclosure control, is that order.

{{ config(materialized='view') }}

with

measures as (
    select * from {{ ref('division_diversity_measures') }}
),

interventions as (
    select
        intervention_code,
        intervention_name
    from {{ ref('mart_interventions') }}
),

group_orders as (
    -- The order of each dimension's groups in the tables (a group the seed does not list goes
    -- after those it does, alphabetically).
    select * from {{ ref('diversity_groups') }}
),

counts as (
    -- Each count the tables show, with the denominator of its rate.
    select
        period_type,
        period,
        dimension,
        intervention_code,
        group_value,
        'REFERRALS' as measure,
        referrals as cell_count,
        eligible_caseload as rate_denominator
    from measures

    union all

    select
        period_type,
        period,
        dimension,
        intervention_code,
        group_value,
        'COMPLETIONS' as measure,
        completions as cell_count,
        completions + non_completions as rate_denominator
    from measures
),

tabulated as (
    -- The cells of the tables as shown, with their total row and total column.
    select
        period_type,
        period,
        dimension,
        measure,
        cast(sum(cell_count) as bigint) as cell_count,
        cast(sum(rate_denominator) as bigint) as rate_denominator,
        coalesce(intervention_code, 'ALL') as row_key,
        coalesce(group_value, 'ALL') as column_key,
        grouping(intervention_code) = 1 as is_total_row,
        grouping(group_value) = 1 as is_total_column
    from counts
    group by grouping sets (
        (period_type, period, dimension, measure, intervention_code, group_value),
        (period_type, period, dimension, measure, intervention_code),
        (period_type, period, dimension, measure, group_value),
        (period_type, period, dimension, measure)
    )
),

final as (
    -- The table's order: interventions by name then the total row; groups in the seed's order
    -- then the total column.
    select
        tabulated.period_type,
        tabulated.period,
        tabulated.dimension,
        tabulated.measure,
        tabulated.row_key,
        tabulated.column_key,
        tabulated.is_total_row,
        tabulated.is_total_column,
        tabulated.cell_count,
        tabulated.rate_denominator,
        coalesce(
            interventions.intervention_name,
            case when tabulated.is_total_row then 'All interventions' else tabulated.row_key end
        ) as row_label,
        dense_rank() over (
            partition by
                tabulated.period_type,
                tabulated.period,
                tabulated.dimension,
                tabulated.measure
            -- nulls last written out: Spark sorts them first in ascending order
            order by
                tabulated.is_total_row nulls last,
                lower(coalesce(interventions.intervention_name, tabulated.row_key)) nulls last,
                tabulated.row_key nulls last
        ) as row_order,
        dense_rank() over (
            partition by
                tabulated.period_type,
                tabulated.period,
                tabulated.dimension,
                tabulated.measure
            order by
                tabulated.is_total_column nulls last,
                coalesce(group_orders.display_order, 999),
                tabulated.column_key nulls last
        ) as column_order
    from tabulated
    left join interventions
        on
            tabulated.row_key = interventions.intervention_code
            and not tabulated.is_total_row
    left join group_orders
        on
            tabulated.dimension = group_orders.dimension
            and tabulated.column_key = group_orders.group_value
)

select * from final
