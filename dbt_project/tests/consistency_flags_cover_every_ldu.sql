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
    -- the keys of the full join: the non-null side's; expected.ldu_code and flags.ldu_code
    -- are each side's own (null where that side has no row)
    coalesce(expected.period_type, flags.period_type) as period_type,
    coalesce(expected.period, flags.period) as period,
    coalesce(expected.intervention_code, flags.intervention_code) as intervention_code,
    coalesce(expected.measure, flags.measure) as measure,
    coalesce(expected.ldu_code, flags.ldu_code) as ldu_code,
    case when flags.ldu_code is null then 'MISSING' else 'UNEXPECTED' end as problem
from expected
full outer join flags
    on {{ equal_keys('expected', 'flags', [
        'period_type', 'period', 'intervention_code', 'measure', 'ldu_code',
    ]) }}
where expected.ldu_code is null or flags.ldu_code is null
