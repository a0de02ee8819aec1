-- How many LDU and intervention pairs are at each RAG status, per measure, in the current
-- financial year (marts.performance_against_target, current_periods): the Performance page's
-- summary above its matrices.
with targets as (
    select * from {{ ref('performance_against_target') }}
),

current_year as (
    select * from {{ ref('current_periods') }}
    where period_type = 'YEAR'
),

final as (
    select
        targets.measure,
        cast(sum(case when targets.rag = 'GREEN' then 1 else 0 end) as bigint) as green,
        cast(sum(case when targets.rag = 'AMBER' then 1 else 0 end) as bigint) as amber,
        cast(sum(case when targets.rag = 'RED' then 1 else 0 end) as bigint) as red,
        cast(sum(case when targets.rag = 'NO_DATA' then 1 else 0 end) as bigint) as no_data,
        cast(sum(case when targets.rag = 'NO_TARGET' then 1 else 0 end) as bigint) as no_target
    from targets
    inner join current_year on targets.financial_year = current_year.period
    group by targets.measure
)

select * from final
