-- noqa: disable=LT02
-- (the test's body is SQL, not indented inside the macro block)
{#- The engines' variants of the generic test matches_declared_columns (tests/generic): dbt
    finds dispatched macros only in the macro paths. -#}
{% macro default__test_matches_declared_columns(model) -%}
select
    cast(null as integer) as position,
    cast(null as {{ dbt.type_string() }}) as declared_name
where 1 = 0
{%- endmacro %}

{% macro duckdb__test_matches_declared_columns(model) %}
{%- set declared = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and (node.alias or node.name) == model.identifier
            and node.schema == model.schema -%}
            {%- for column in node.columns.values() -%}
                {%- do declared.append((column.name, column.data_type)) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}
with declared as (
    {%- for name, data_type in declared %}
    select
        {{ loop.index }} as position,
        '{{ name }}' as column_name,
        upper('{{ 'varchar' if data_type | lower == 'string' else data_type }}') as data_type
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as integer) as position,
        cast(null as varchar) as column_name,
        cast(null as varchar) as data_type
    where false
    {%- endfor %}
),

built as (
    select
        ordinal_position as position,
        column_name,
        upper(data_type) as data_type
    from information_schema.columns
    where
        table_schema = '{{ model.schema }}'
        and table_name = '{{ model.identifier }}'
)

select
    coalesce(declared.position, built.position) as position,
    declared.column_name as declared_name,
    built.column_name as built_name,
    declared.data_type as declared_type,
    built.data_type as built_type
from declared
full outer join built
    on declared.position = built.position
where
    declared.column_name is distinct from built.column_name
    or declared.data_type is distinct from built.data_type
{% endmacro %}
