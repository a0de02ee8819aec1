{#- The condition of a join on equal keys, written out: `on {{ equal_keys('a', 'b', ['k']) }}`
    for `using (k)`. Trino drops a USING join's keys from `a.*` and cannot resolve `a.k`, so
    the project joins with ON everywhere (docs/portable-sql.md). -#}
{% macro equal_keys(left, right, keys) -%}
    {%- for key in keys -%}
        {{ left }}.{{ key }} = {{ right }}.{{ key }}
        {%- if not loop.last %} and {% endif -%}
    {%- endfor -%}
{%- endmacro %}
