{#- The published_history schema: what each publish handed to readers (docs/operations.md,
    "What changed"). `icw` writes one row of `publications` and a copy of each small published
    table, with its publication_id, in the publish transaction
    (orchestration/reporting/history.py). reporting.what_changed reads them as a source, so they
    must exist before its first build: its pre-hooks create them empty, shaped like the tables
    they copy, when they are not there. -#}
{% macro published_history_publications_ddl() -%}
    create table if not exists published_history.publications (
        publication_id {{ dbt.type_bigint() }},
        reporting_month {{ dbt.type_string() }},
        data_as_at date,
        published_at {{ dbt.type_timestamp() }}
    )
{%- endmacro %}

{% macro published_history_copy_ddl(model_name) -%}
    create table if not exists published_history.{{ model_name }} as
    select
        cast(null as bigint) as publication_id,
        copied.*
    from {{ ref(model_name) }} as copied
    where 1 = 0
{%- endmacro %}
