{#- Every row satisfies a SQL condition (dbt_utils' expression_is_true, which cannot be installed
    here); usable on a model or a column. A NULL result counts as a failure: write the condition so that it says what a NULL
    should mean. Returns the failing rows. -#}
{% test expression_holds(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
