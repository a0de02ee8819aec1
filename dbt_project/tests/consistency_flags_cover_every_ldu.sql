-- Blocking: consistency_flags has a row for every reported YEAR and QUARTER, seed intervention,
-- measure and seed LDU (zeros included), and no other. Returns the missing or unexpected keys.
-- Shown in Dagster as a check on consistency_flags (it reads other models too).
{{ config(meta={'dagster': {'ref': {'name': 'consistency_flags'}}}) }}

with periods as (
    select
        period_type,
        period
    from {{ ref('periods') }}
    where period_type in ('YEAR', 'QUARTER')
),

measures as (
    select 'COMPLETION_RATE' as measure
    union all
    select 'TIMELY_START_RATE' as measure
    union all
    select 'REFERRAL_RATIO' as measure
),

expected as (
    select
        periods.period_type,
        periods.period,
        interventions.intervention_code,
        measures.measure,
        ldus.ldu_code
    from periods
    cross join {{ ref('mart_interventions') }} as interventions
    cross join measures
    cross join {{ ref('mart_ldus') }} as ldus
),

flags as (
    select
        period_type,
        period,
        intervention_code,
        measure,
        ldu_code
    from {{ ref('consistency_flags') }}
)

select
    -- the keys of a full join's using are the non-null side's; expected.ldu_code and
    -- flags.ldu_code stay each side's own (null where that side has no row)
    period_type,
    period,
    intervention_code,
    measure,
    ldu_code,
    case when flags.ldu_code is null then 'MISSING' else 'UNEXPECTED' end as problem
from expected
full outer join flags
    using (period_type, period, intervention_code, measure, ldu_code)
where expected.ldu_code is null or flags.ldu_code is null
