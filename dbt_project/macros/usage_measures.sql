{#- The usage measures of METRICS.md for every reported period and intervention, per LDU when
    by_ldu is true and for the division as a whole otherwise. One definition serves both marts,
    so the division's figures are the LDUs' figures summed (and its eligible caseload counts a
    person in two LDUs once). -#}
{% macro usage_measures(by_ldu) %}
{%- set ldu = 'ldu_code, ' if by_ldu else '' -%}
with periods as (
    select * from {{ ref('int_periods_generated') }}
),

ldus as (
    select ldu_code from {{ ref('ldus') }}
),

interventions as (
    select intervention_code from {{ ref('interventions') }}
),

caseload_eligible as (
    select * from {{ ref('int_caseload_eligibility_joined') }}
),

referrals as (
    select * from {{ ref('int_referrals_started') }}
),

endings as (
    select * from {{ ref('int_completions_matched') }}
    where not is_orphan
),

spine as (
    select
        periods.period_type,
        periods.period,
        periods.period_start,
        periods.period_end,
        periods.is_partial,
        {% if by_ldu %}ldus.ldu_code,{% endif %}
        interventions.intervention_code
    from periods
    {% if by_ldu %}cross join ldus{% endif %}
    cross join interventions
),

eligible_counts as (
    select
        periods.period_type,
        periods.period,
        {% if by_ldu %}caseload_eligible.ldu_code,{% endif %}
        caseload_eligible.intervention_code,
        count(distinct caseload_eligible.person_id) as eligible_caseload
    from caseload_eligible
    inner join periods
        on caseload_eligible.snapshot_date between periods.period_start and periods.period_end
    group by periods.period_type, periods.period, {{ ldu }}caseload_eligible.intervention_code
),

referral_counts as (
    select
        periods.period_type,
        periods.period,
        {% if by_ldu %}referrals.ldu_code,{% endif %}
        referrals.intervention_code,
        count(*) as referrals
    from referrals
    inner join periods
        on referrals.referral_date between periods.period_start and periods.period_end
    group by periods.period_type, periods.period, {{ ldu }}referrals.intervention_code
),

start_counts as (
    select
        periods.period_type,
        periods.period,
        {% if by_ldu %}referrals.ldu_code,{% endif %}
        referrals.intervention_code,
        count(*) as starts,
        sum(case when referrals.is_timely_start then 1 else 0 end) as timely_starts,
        percentile_cont(0.5) within group (
            order by case when referrals.days_to_start >= 0 then referrals.days_to_start end
        ) as median_days_to_start
    from referrals
    inner join periods
        on referrals.programme_start_date between periods.period_start and periods.period_end
    group by periods.period_type, periods.period, {{ ldu }}referrals.intervention_code
),

ending_counts as (
    select
        periods.period_type,
        periods.period,
        {% if by_ldu %}endings.ldu_code,{% endif %}
        endings.intervention_code,
        sum(case when endings.ending_type = 'COMPLETION' then 1 else 0 end) as completions,
        sum(case when endings.ending_type = 'NON_COMPLETION' then 1 else 0 end)
            as non_completions
    from endings
    inner join periods
        on endings.end_date between periods.period_start and periods.period_end
    group by periods.period_type, periods.period, {{ ldu }}endings.intervention_code
),

{%- set join_keys -%}
    spine.period_type = {alias}.period_type
    and spine.period = {alias}.period
    {% if by_ldu %}and spine.ldu_code = {alias}.ldu_code{% endif %}
    and spine.intervention_code = {alias}.intervention_code
{%- endset %}

counted as (
    select
        spine.*,
        cast(coalesce(eligible_counts.eligible_caseload, 0) as bigint) as eligible_caseload,
        cast(coalesce(referral_counts.referrals, 0) as bigint) as referrals,
        cast(coalesce(start_counts.starts, 0) as bigint) as starts,
        cast(coalesce(ending_counts.completions, 0) as bigint) as completions,
        cast(coalesce(ending_counts.non_completions, 0) as bigint) as non_completions,
        cast(coalesce(start_counts.timely_starts, 0) as bigint) as timely_starts,
        cast(start_counts.median_days_to_start as double) as median_days_to_start
    from spine
    left join eligible_counts on {{ join_keys.replace('{alias}', 'eligible_counts') }}
    left join referral_counts on {{ join_keys.replace('{alias}', 'referral_counts') }}
    left join start_counts on {{ join_keys.replace('{alias}', 'start_counts') }}
    left join ending_counts on {{ join_keys.replace('{alias}', 'ending_counts') }}
),

final as (
    select
        period_type,
        period,
        period_start,
        period_end,
        is_partial,
        {{ ldu }}intervention_code,
        eligible_caseload,
        referrals,
        100.0 * referrals / nullif(eligible_caseload, 0) as referral_rate,
        starts,
        completions,
        non_completions,
        cast(completions as double) / nullif(completions + non_completions, 0)
            as completion_rate,
        timely_starts,
        cast(timely_starts as double) / nullif(starts, 0) as timely_start_rate,
        median_days_to_start
    from counted
)

select * from final
{% endmacro %}
