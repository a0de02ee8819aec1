-- Each LDU against the division and the other LDUs, current financial year to date, for its
-- scorecard: one row per LDU and headline measure with its figure (ldu_year_to_date), the
-- division's (division_headline), its rank among the LDUs (1 is the highest; rates without a
-- denominator rank last) and its standing against target: for the counts, the share of its
-- pro-rated targets reached; for the rates, its intervention measures at GREEN, AMBER and RED.
with ldus as (
    select * from {{ ref('ldu_year_to_date') }}
),

division as (
    select * from {{ ref('division_headline') }}
),

targets as (
    select * from {{ ref('performance_against_target') }}
),

current_year as (
    select * from {{ ref('current_periods') }}
    where period_type = 'YEAR'
),

ranked as (
    select
        ldu_code,
        referrals,
        starts,
        completions,
        completion_rate,
        timely_start_rate,
        rank() over (order by referrals desc) as referrals_rank,
        rank() over (order by starts desc) as starts_rank,
        rank() over (order by completions desc) as completions_rank,
        rank() over (order by completion_rate desc nulls last) as completion_rate_rank,
        rank() over (order by timely_start_rate desc nulls last) as timely_start_rate_rank,
        count(*) over () as ldus
    from ldus
),

measures as (
    select
        ldu_code,
        'REFERRALS' as measure,
        cast(referrals as double) as ldu_value,
        referrals_rank as rank_among_ldus,
        ldus
    from ranked
    union all
    select
        ldu_code,
        'STARTS' as measure,
        cast(starts as double) as ldu_value,
        starts_rank as rank_among_ldus,
        ldus
    from ranked
    union all
    select
        ldu_code,
        'COMPLETIONS' as measure,
        cast(completions as double) as ldu_value,
        completions_rank as rank_among_ldus,
        ldus
    from ranked
    union all
    select
        ldu_code,
        'COMPLETION_RATE' as measure,
        completion_rate as ldu_value,
        completion_rate_rank as rank_among_ldus,
        ldus
    from ranked
    union all
    select
        ldu_code,
        'TIMELY_START_RATE' as measure,
        timely_start_rate as ldu_value,
        timely_start_rate_rank as rank_among_ldus,
        ldus
    from ranked
),

ldu_targets as (
    select
        targets.ldu_code,
        targets.measure,
        {{ target_summary_columns('targets') }}
    from targets
    inner join current_year on targets.financial_year = current_year.period
    group by targets.ldu_code, targets.measure
),

final as (
    select
        measures.ldu_code,
        measures.measure,
        division.measure_order,
        measures.ldu_value,
        division.year_value as division_value,
        cast(measures.rank_among_ldus as bigint) as rank_among_ldus,
        cast(measures.ldus as bigint) as ldus,
        cast(ldu_targets.green_targets as bigint) as green_targets,
        cast(ldu_targets.amber_targets as bigint) as amber_targets,
        cast(ldu_targets.red_targets as bigint) as red_targets,
        {{ target_share_columns('measures.measure', 'ldu_targets') }}
    from measures
    inner join division on measures.measure = division.measure
    left join ldu_targets
        on
            measures.ldu_code = ldu_targets.ldu_code
            and measures.measure = ldu_targets.measure
)

select * from final
