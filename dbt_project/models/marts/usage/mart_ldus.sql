{{ config(alias="ldus") }}

-- The division's local delivery units (seed `ldus`).
with seed as (
    select * from {{ ref('ldus') }}
),

final as (
    select
        ldu_code,
        ldu_name,
        region,
        valid_from,
        valid_to
    from seed
)

select * from final
