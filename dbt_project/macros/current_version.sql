{#- Which delivered version of a record is current (docs/contract.md): the greatest of its own
    update stamp (referrals: last_updated_at; completions: recorded_at); ties go to the later
    as-at date, then the greater file name, then the later line. The one place that writes the
    tie-break: a model ranks its versions with it and keeps rank 1. -#}
{% macro current_version_rank(partition_by, updated_at) -%}
    row_number() over (
        partition by {{ partition_by }}
        order by {{ updated_at }} desc, as_at_date desc, file_name desc, line_number desc
    )
{%- endmacro %}
