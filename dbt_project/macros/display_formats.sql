{#- How the report's views write figures as text: one place, because it is the one DuckDB-only
    piece of the reporting layer (fmt-style `format`); another engine needs only these changed. -#}
{% macro format_count(expression) -%}
    format('{:,}', cast({{ expression }} as bigint))
{%- endmacro %}

{% macro format_decimal(expression, places=1) -%}
    format('{:.{{ places }}f}', cast({{ expression }} as double))
{%- endmacro %}
