{#- At least one row satisfies a SQL condition (for example, the division pack has a
    recipient). Returns one row when none does. -#}
{% test has_a_row_where(model, condition) %}
select 'no row where {{ condition | replace("'", "") }}' as failure
from (select count(*) as matching from {{ model }} where {{ condition }}) as counted
where counted.matching = 0
{% endtest %}
