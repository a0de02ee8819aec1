{#- Every non-NULL value is a financial year label as docs/metrics.md writes it: `2024-25`, the year
    April starts in, a hyphen, and the last two digits of the next year. Returns the rows whose
    label is not of that form. -#}
{% test financial_year_label(model, column_name) %}
with labels as (
    select
        {{ column_name }} as label,
        try_cast(substr({{ column_name }}, 1, 4) as integer) as start_year
    from {{ model }}
    where {{ column_name }} is not null
)

select *
from labels
where
    length(label) <> 7
    or start_year is null
    or substr(label, 5, 1) <> '-'
    or substr(label, 6, 2)
    <> {{ dbt.right('cast(start_year + 1 as ' ~ dbt.type_string() ~ ')', '2') }}
{% endtest %}
