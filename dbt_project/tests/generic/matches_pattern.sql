{#- Every non-NULL value of the column matches the regular expression whole (icw.full_match, one
    spelling per engine). Returns the rows that do not. -#}
{% test matches_pattern(model, column_name, pattern) %}
select *
from {{ model }}
where {{ column_name }} is not null and not {{ icw.full_match(column_name, pattern) }}
{% endtest %}
