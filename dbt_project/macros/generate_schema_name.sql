{#- The published schema names are `marts`, `audit`, ...: use a model's custom schema as it is,
    without dbt's default `<target>_` prefix. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
