{#- Whether a whole string matches a regular expression: DuckDB's regexp_full_match, anchored
    on the others (docs/portable-sql.md). default__ is Trino's (Athena). -#}
{% macro full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('full_match', 'icw')(expression, pattern)) }}
{%- endmacro %}

{% macro default__full_match(expression, pattern) -%}
    regexp_like({{ expression }}, '^(?:{{ pattern }})$')
{%- endmacro %}

{% macro duckdb__full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__full_match(expression, pattern) -%}
    {{ expression }} rlike '^(?:{{ pattern }})$'
{%- endmacro %}
