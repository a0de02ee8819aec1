{#- An array column holds the first few values in ascending order: as many as the count column
    says, up to `examples`. Returns the rows where it does not (a NULL fails). -#}
{% test first_sorted_examples(model, column_name, count_column, examples) %}
select *
from {{ model }}
where not coalesce(
    {{ icw.array_length(column_name) }} = least({{ count_column }}, {{ examples }})
    and {{ icw.array_sort(column_name) }} = {{ column_name }},
    false
)
{% endtest %}
