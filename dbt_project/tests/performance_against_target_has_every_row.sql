-- Every reported financial year x seed LDU x seed intervention x the four measures has a row
-- in performance_against_target, and no other row exists (docs/metrics.md). Returns the
-- combinations that are missing or extra.
with expected as (
    select
        years.period as financial_year,
        ldus.ldu_code,
        interventions.intervention_code,
        measures.measure
    from {{ ref('periods') }} as years
    cross join {{ ref('mart_ldus') }} as ldus
    cross join {{ ref('mart_interventions') }} as interventions
    cross join (
        values ('STARTS'), ('COMPLETIONS'), ('COMPLETION_RATE'), ('TIMELY_START_RATE')
    ) as measures (measure)
    where years.period_type = 'YEAR'
),

actual as (
    select
        financial_year,
        ldu_code,
        intervention_code,
        measure
    from {{ ref('performance_against_target') }}
),

missing as (
    select
        'MISSING' as problem,
        *
    from (
        select * from expected
        except
        select * from actual
    ) as not_built
),

extra as (
    select
        'EXTRA' as problem,
        *
    from (
        select * from actual
        except
        select * from expected
    ) as not_expected
)

select * from missing
union all
select * from extra
