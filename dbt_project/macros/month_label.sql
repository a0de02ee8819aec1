{#- The `YYYY-MM` label of the month a date falls in (docs/metrics.md, Periods). The one place that
    formats a date as a month label, so a mart carries no engine-specific date formatting: on
    another engine (Spark: date_format(d, 'yyyy-MM')) only this macro changes. -#}
{% macro month_label(date_expression) -%}
    strftime({{ date_expression }}, '%Y-%m')
{%- endmacro %}
