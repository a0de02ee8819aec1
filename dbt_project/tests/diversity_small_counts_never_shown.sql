-- Disclosure control holds on the real data: no count of 1 to 4 and no rate on a denominator
-- under 10 reaches the report's diversity tables, and every suppressed figure is NULL.
select *
from {{ ref('diversity_table_cells') }}
where
    shown_count between 1 and 4
    or (count_suppression is not null and (shown_count is not null or count_display <> '[c]'))
    or (rate_suppression is not null and (shown_rate is not null or rate_display <> '[c]'))
