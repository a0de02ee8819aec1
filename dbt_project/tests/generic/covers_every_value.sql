{#- Every value of `field` in `to` appears in the column (where `condition` holds): for example,
    every LDU has a recipient. Returns the values that do not appear. -#}
{% test covers_every_value(model, column_name, to, field, condition='1 = 1') %}
select reference.{{ field }} as missing_value
from {{ to }} as reference
where reference.{{ field }} not in (
    select covered.{{ column_name }}
    from {{ model }} as covered
    where covered.{{ column_name }} is not null and ({{ condition }})
)
{% endtest %}
