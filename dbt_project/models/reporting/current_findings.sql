-- Which findings are current: the one home of the rule. A finding is a consistency_flags row
-- at ALARM (outside the 99.8 % limits) or ALERT (outside the 95 % limits only) in a current
-- YEAR or QUARTER (current_periods: the latest of each, partial or not). The CLI summary, the
-- Dagster check, the dbt warning and the report's pages all read this table.
with flags as (
    select * from {{ ref('consistency_flags') }}
),

current_periods as (
    select * from {{ ref('current_periods') }}
),

final as (
    select
        flags.period_type,
        flags.period,
        flags.period_start,
        flags.period_end,
        flags.is_partial,
        flags.intervention_code,
        flags.measure,
        flags.ldu_code,
        flags.level,
        flags.direction,
        flags.level_adjusted,
        flags.numerator,
        flags.denominator,
        flags.value,
        flags.division_value,
        flags.lower_95,
        flags.upper_95,
        flags.lower_998,
        flags.upper_998,
        -- the limits the finding is outside of: 99.8 % for an ALARM, 95 % for an ALERT
        cast(case flags.level when 'ALARM' then 99.8 else 95 end as double) as limits_percent,
        case flags.level when 'ALARM' then flags.lower_998 else flags.lower_95 end as lower_limit,
        case flags.level when 'ALARM' then flags.upper_998 else flags.upper_95 end as upper_limit
    from flags
    inner join current_periods
        on
            flags.period_type = current_periods.period_type
            and flags.period = current_periods.period
    where flags.level in ('ALARM', 'ALERT')
)

select * from final
