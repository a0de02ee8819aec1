-- Each LDU's current financial year to date over all interventions, for the report's "Find an
-- LDU" table: its counts, its rates from the sums (docs/metrics.md), its current ALARM findings of
-- the year, its RED targets and the records the recording checks found in the year's months.
with ldus as (
    select * from {{ ref('mart_ldus') }}
),

measures as (
    select * from {{ ref('ldu_intervention_measures') }}
),

targets as (
    select * from {{ ref('performance_against_target') }}
),

findings as (
    select * from {{ ref('current_findings') }}
),

issues as (
    select * from {{ ref('data_quality_issues') }}
),

periods as (
    select * from {{ ref('periods') }}
),

current_year as (
    select * from {{ ref('current_periods') }}
    where period_type = 'YEAR'
),

year_sums as (
    select
        measures.ldu_code,
        {{ usage_sum_columns('measures') }}
    from measures
    inner join current_year
        on
            measures.period_type = current_year.period_type
            and measures.period = current_year.period
    group by measures.ldu_code
),

year_measures as (
    -- rates from the sums (docs/metrics.md)
    select
        ldu_code,
        cast(referrals as bigint) as referrals,
        cast(starts as bigint) as starts,
        cast(completions as bigint) as completions,
        cast(endings as bigint) as endings,
        cast(completions as double) / nullif(endings, 0) as completion_rate,
        cast(timely_starts as double) / nullif(starts, 0) as timely_start_rate
    from year_sums
),

red_targets as (
    select
        targets.ldu_code,
        count(*) as red_targets
    from targets
    inner join current_year on targets.financial_year = current_year.period
    where targets.rag = 'RED'
    group by targets.ldu_code
),

alarm_findings as (
    select
        findings.ldu_code,
        count(*) as alarm_findings
    from findings
    inner join current_year
        on
            findings.period_type = current_year.period_type
            and findings.period = current_year.period
    where findings.level = 'ALARM'
    group by findings.ldu_code
),

recording as (
    select
        issues.ldu_code,
        sum(issues.record_count) as recording_problems
    from issues
    inner join periods
        on
            periods.period_type = 'MONTH'
            and issues.period = periods.period
    inner join current_year
        on periods.period_start between current_year.period_start and current_year.period_end
    group by issues.ldu_code
),

final as (
    select
        ldus.ldu_code,
        ldus.ldu_name,
        current_year.period,
        year_measures.referrals,
        year_measures.starts,
        year_measures.completions,
        year_measures.endings,
        year_measures.completion_rate,
        year_measures.timely_start_rate,
        cast(coalesce(alarm_findings.alarm_findings, 0) as bigint) as alarm_findings,
        cast(coalesce(red_targets.red_targets, 0) as bigint) as red_targets,
        cast(coalesce(recording.recording_problems, 0) as bigint) as recording_problems
    from ldus
    cross join current_year
    inner join year_measures on ldus.ldu_code = year_measures.ldu_code
    left join red_targets on ldus.ldu_code = red_targets.ldu_code
    left join alarm_findings on ldus.ldu_code = alarm_findings.ldu_code
    left join recording on ldus.ldu_code = recording.ldu_code
)

select * from final
