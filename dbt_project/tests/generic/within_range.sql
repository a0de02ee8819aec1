{#- Every non-NULL value of the column lies between min_value and max_value, inclusive (either
    bound may be left out); dbt_utils' accepted_range, which cannot be installed here. Returns
    the rows outside the range. -#}
{% test within_range(model, column_name, min_value=none, max_value=none) %}
{% set below = column_name ~ ' < ' ~ min_value if min_value is not none else 'false' %}
{% set above = column_name ~ ' > ' ~ max_value if max_value is not none else 'false' %}
select *
from {{ model }}
where
    {{ column_name }} is not null
    and ({{ below }} or {{ above }})
{% endtest %}
