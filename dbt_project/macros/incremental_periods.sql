-- noqa: disable=LT02
{#- The caseload files behind the incremental models (docs/benchmarks.md, Issue 12): every LOADED
    caseload file in audit.loads replaced its snapshot (its as-at date) whole, even one whose
    every row was quarantined, so the snapshots a build must take again are those of the files
    loaded since the table's watermark, and the watermark is the largest such load_id. -#}
{% macro loaded_caseload_files() -%}
    select
        load_id,
        as_at_date
    from {{ source('audit', 'loads') }}
    where extract = 'caseload' and status = 'LOADED'
{%- endmacro %}

{#- The watermark an incremental model keeps in every row it builds, built_from_load_id: the
    largest load_id of the caseload files this build read. -#}
{% macro caseload_watermark() -%}
    {%- if target.type == 'duckdb' -%}
    select max(load_id) as built_from_load_id
    from ({{ loaded_caseload_files() }}) as loaded_files
    {%- else -%}
    {#- another engine has no audit.loads, and its incremental models are plain tables -#}
    select cast(null as bigint) as built_from_load_id
    {%- endif -%}
{%- endmacro %}

{#- The months of the caseload snapshots loaded since the incremental model was last built
    (built_from_load_id, its watermark): in an incremental build, the months whose periods it
    rebuilds. -#}
{% macro caseload_months_loaded_since_build() -%}
    select distinct cast({{ dbt.date_trunc('month', 'as_at_date') }} as date) as month_start
    from ({{ loaded_caseload_files() }}) as loaded_files
    where load_id > (select coalesce(max(built_from_load_id), -1) from {{ this }})
{%- endmacro %}

{#- Whether this build of an incremental model adds to the table: on DuckDB only, where the
    models are incremental (elsewhere they are tables), and asked in that order because dbt's
    is_incremental() looks the table up, which another engine cannot do at compile time
    without a session or AWS credentials. -#}
{% macro incremental_build() -%}
    {{ return(target.type == 'duckdb' and is_incremental()) }}
{%- endmacro %}
