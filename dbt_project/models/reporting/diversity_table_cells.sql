-- sqlfluff:indentation:template_blocks_indent:False
-- The report's diversity tables, cell by cell, after disclosure control (issue 6).
--
-- Each table is one financial period, dimension and count (referrals or completions): a row per
-- intervention (by name), a column per group (in the seed's order), a total row ('ALL'
-- interventions) and a total column ('ALL' groups); beside each count is its rate (referrals
-- per 100 eligible; completion rate). "The table's order", which breaks ties, is that order.
-- The rule, in one pass (DESIGN_NOTES, Report):
--   1. primary: a count of 1 to 4 is suppressed;
--   2. secondary: in each row and each column holding exactly one primary cell among its cells,
--      and whose total is shown, the smallest other cell is suppressed too (ties: the first in
--      the table's order), so the primary cell cannot be worked out from the total;
--   3. a rate is suppressed when its denominator is under 10, or when its count is suppressed
--      (else rate × denominator gives the count back). Rates never cause count suppression.
-- Suppressed figures are NULL here and shown as `[c]`: the exact figures stay in the marts.

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

ordered as (
    -- The table's order: interventions by name then the total row; groups in the seed's order
    -- then the total column.
    select
        tabulated.*,
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
            order by
                tabulated.is_total_row,
                lower(coalesce(interventions.intervention_name, tabulated.row_key)),
                tabulated.row_key
        ) as row_order,
        dense_rank() over (
            partition by
                tabulated.period_type,
                tabulated.period,
                tabulated.dimension,
                tabulated.measure
            order by
                tabulated.is_total_column,
                coalesce(group_orders.display_order, 999),
                tabulated.column_key
        ) as column_order,
        tabulated.cell_count between 1 and 4 as is_primary
    from tabulated
    left join interventions
        on
            tabulated.row_key = interventions.intervention_code
            and not tabulated.is_total_row
    left join group_orders
        on
            tabulated.dimension = group_orders.dimension
            and tabulated.column_key = group_orders.group_value
),

{#- The secondary rule is the same along rows and along columns: per line (a row or a column),
    its key, the flag of the other axis's total cell, and the order that breaks ties. -#}
{%- set lines = [
    ('row', 'row_key', 'is_total_column', 'column_order'),
    ('column', 'column_key', 'is_total_row', 'row_order'),
] %}
{%- for axis, line_key, is_line_total, tie_order in lines %}

{{ axis }}_lines as (
    -- Per {{ axis }}: how many of its cells are primary, and whether its total is itself
    -- suppressed, in which case nothing can be worked out from it.
    select
        period_type,
        period,
        dimension,
        measure,
        {{ line_key }},
        sum(case when is_primary and not {{ is_line_total }} then 1 else 0 end)
            as primary_cells,
        max(case when is_primary and {{ is_line_total }} then 1 else 0 end)
            as is_total_suppressed
    from ordered
    group by period_type, period, dimension, measure, {{ line_key }}
),

{{ axis }}_candidates as (
    -- The other cells of a {{ axis }} with exactly one primary cell, smallest first, then by
    -- the table's order.
    select
        ordered.period_type,
        ordered.period,
        ordered.dimension,
        ordered.measure,
        ordered.row_key,
        ordered.column_key,
        row_number() over (
            partition by
                ordered.period_type,
                ordered.period,
                ordered.dimension,
                ordered.measure,
                ordered.{{ line_key }}
            order by ordered.cell_count, ordered.{{ tie_order }}
        ) as candidate_rank
    from ordered
    inner join {{ axis }}_lines
        on
            ordered.period_type = {{ axis }}_lines.period_type
            and ordered.period = {{ axis }}_lines.period
            and ordered.dimension = {{ axis }}_lines.dimension
            and ordered.measure = {{ axis }}_lines.measure
            and ordered.{{ line_key }} = {{ axis }}_lines.{{ line_key }}
    where
        {{ axis }}_lines.primary_cells = 1
        and {{ axis }}_lines.is_total_suppressed = 0
        and not ordered.is_primary
        and not ordered.{{ is_line_total }}
),
{%- endfor %}

secondaries as (
    {%- for axis, line_key, is_line_total, tie_order in lines %}
    {% if not loop.first %}
    union
    {% endif %}
    select
        period_type,
        period,
        dimension,
        measure,
        row_key,
        column_key
    from {{ axis }}_candidates
    where candidate_rank = 1
    {%- endfor %}
),

suppressed as (
    select
        ordered.*,
        case
            when ordered.is_primary then 'PRIMARY'
            when secondaries.row_key is not null then 'SECONDARY'
        end as count_suppression
    from ordered
    left join secondaries
        on
            ordered.period_type = secondaries.period_type
            and ordered.period = secondaries.period
            and ordered.dimension = secondaries.dimension
            and ordered.measure = secondaries.measure
            and ordered.row_key = secondaries.row_key
            and ordered.column_key = secondaries.column_key
),

rated as (
    select
        suppressed.*,
        case
            when suppressed.rate_denominator < 10 then 'SMALL_DENOMINATOR'
            when suppressed.count_suppression is not null then 'COUNT_SUPPRESSED'
        end as rate_suppression,
        -- Referrals per 100 eligible people; completions as a proportion (METRICS.md).
        case suppressed.measure when 'REFERRALS' then 100.0 else 1.0 end
        * suppressed.cell_count
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
        row_order,
        column_order,
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
