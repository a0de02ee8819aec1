-- The diversity tables after disclosure control (reporting.diversity_table_cells, built by dbt):
-- suppressed figures are NULL and display as [c]. The report reads diversity only from here.
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
    shown_count,
    count_display,
    count_suppression,
    shown_rate,
    rate_display,
    rate_suppression
from reporting.diversity_table_cells
