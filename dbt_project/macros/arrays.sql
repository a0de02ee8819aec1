{#- Arrays: DuckDB's list functions have other names on Spark and Trino (docs/portable-sql.md).
    default__ is Trino's (Athena) spelling. -#}

{#- The values of a group, sorted, as an array. On Spark, collect_list drops NULLs where the
    others keep them: use it on a column that is never NULL. -#}
{% macro sorted_array_agg(expression) -%}
    {{ return(adapter.dispatch('sorted_array_agg', 'icw')(expression)) }}
{%- endmacro %}

{% macro default__sorted_array_agg(expression) -%}
    array_agg({{ expression }} order by {{ expression }})
{%- endmacro %}

{% macro spark__sorted_array_agg(expression) -%}
    array_sort(collect_list({{ expression }}))
{%- endmacro %}

{#- How many elements an array holds -#}
{% macro array_length(expression) -%}
    {{ return(adapter.dispatch('array_length', 'icw')(expression)) }}
{%- endmacro %}

{% macro default__array_length(expression) -%}
    cardinality({{ expression }})
{%- endmacro %}

{% macro duckdb__array_length(expression) -%}
    len({{ expression }})
{%- endmacro %}

{% macro spark__array_length(expression) -%}
    size({{ expression }})
{%- endmacro %}

{#- An array's elements in ascending order -#}
{% macro array_sort(expression) -%}
    {{ return(adapter.dispatch('array_sort', 'icw')(expression)) }}
{%- endmacro %}

{% macro default__array_sort(expression) -%}
    array_sort({{ expression }})
{%- endmacro %}

{% macro duckdb__array_sort(expression) -%}
    list_sort({{ expression }})
{%- endmacro %}
