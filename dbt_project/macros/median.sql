{#- The continuous median of a group's values, as a double, NULLs skipped (the mean of the two
    middle values when there is an even number): percentile_cont on DuckDB and Spark. Trino
    (Athena) has only an approximate percentile, so there it is taken from the sorted values.
    (sqlglot would turn percentile_cont into approx_percentile for Trino without a word.) -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'icw')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    cast(percentile_cont(0.5) within group (order by {{ expression }}) as double)
{%- endmacro %}

{% macro trino__median(expression) -%}
    {%- set values -%}
        array_sort(array_agg({{ expression }}) filter (where {{ expression }} is not null))
    {%- endset -%}
    {%- set half = '(count(' ~ expression ~ ') - 1) / cast(2 as double)' -%}
    {%- set middle = 'cast(floor(' ~ half ~ ') as integer)' -%}
    {%- set upper = 'cast(ceil(' ~ half ~ ') as integer)' -%}
    case
        when count({{ expression }}) > 0 then
            (
                cast(element_at({{ values }}, {{ middle }} + 1) as double)
                + cast(element_at({{ values }}, {{ upper }} + 1) as double)
            ) / 2
    end
{%- endmacro %}

{% macro athena__median(expression) -%}
    {{ icw.trino__median(expression) }}
{%- endmacro %}
