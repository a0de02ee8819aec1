{#- The `YYYY-MM` label of the month a date falls in (docs/metrics.md, Periods). The one place that
    formats a date as a month label, so a mart carries no engine-specific date formatting: each
    engine spells it its own way (docs/portable-sql.md). -#}
{% macro month_label(date_expression) -%}
    {{ return(adapter.dispatch('month_label', 'icw')(date_expression)) }}
{%- endmacro %}

{#- Trino (Athena): MySQL-style patterns -#}
{% macro default__month_label(date_expression) -%}
    date_format({{ date_expression }}, '%Y-%m')
{%- endmacro %}

{% macro duckdb__month_label(date_expression) -%}
    strftime({{ date_expression }}, '%Y-%m')
{%- endmacro %}

{#- Spark: Java DateTimeFormatter patterns -#}
{% macro spark__month_label(date_expression) -%}
    date_format({{ date_expression }}, 'yyyy-MM')
{%- endmacro %}
