{#- How the report's views write figures as text: one place, dispatched per engine, because
    each engine formats numbers its own way (docs/portable-sql.md). DuckDB and Spark round an
    exact binary tie (12.25) to even; Trino's Java formatter rounds it up. default__ is Trino's
    (Athena). -#}
{% macro format_count(expression) -%}
    {{ return(adapter.dispatch('format_count', 'icw')(expression)) }}
{%- endmacro %}

{% macro default__format_count(expression) -%}
    format('%,d', cast({{ expression }} as bigint))
{%- endmacro %}

{% macro duckdb__format_count(expression) -%}
    format('{:,}', cast({{ expression }} as bigint))
{%- endmacro %}

{% macro spark__format_count(expression) -%}
    format_number(cast({{ expression }} as bigint), 0)
{%- endmacro %}

{% macro format_decimal(expression, places=1) -%}
    {{ return(adapter.dispatch('format_decimal', 'icw')(expression, places)) }}
{%- endmacro %}

{% macro default__format_decimal(expression, places=1) -%}
    format('%.{{ places }}f', cast({{ expression }} as double))
{%- endmacro %}

{% macro duckdb__format_decimal(expression, places=1) -%}
    format('{:.{{ places }}f}', cast({{ expression }} as double))
{%- endmacro %}

{#- a DecimalFormat pattern without grouping, as `{:.1f}`; it rounds half to even -#}
{% macro spark__format_decimal(expression, places=1) -%}
    format_number(cast({{ expression }} as double), '{{ "0." ~ "0" * places if places else "0" }}')
{%- endmacro %}
