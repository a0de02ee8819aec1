{#- Every ref() and source() renders as "schema"."table", without the database part.

    DuckDB names a warehouse's catalog after its file ("warehouse" for warehouse.duckdb), and a
    view keeps the names its query was written with. With the database part, the staging views
    read "warehouse"."raw"."caseload", so a copy of the warehouse under another file name (say
    icw-2026-11.duckdb) failed with `Binder Error: Catalog "warehouse" does not exist!` as soon
    as anything read a view. Without it, DuckDB binds a view's names in the view's own catalog,
    whatever the file is called or attached as.

    The override is dbt's documented pattern (docs.getdbt.com, "About builtins Jinja variable"):
    a project macro named ref or source masks the built-in, and builtins.ref/source is the
    original. Python models get their refs through the same macro. -#}
{% macro ref() -%}
    {%- set version = kwargs.get('version') or kwargs.get('v') -%}
    {%- if (varargs | length) == 1 -%}
        {%- set relation = builtins.ref(varargs[0], version=version) -%}
    {%- else -%}
        {%- set relation = builtins.ref(varargs[0], varargs[1], version=version) -%}
    {%- endif -%}
    {%- do return(relation.include(database=False)) -%}
{%- endmacro %}

{% macro source(source_name, table_name) -%}
    {%- do return(builtins.source(source_name, table_name).include(database=False)) -%}
{%- endmacro %}
