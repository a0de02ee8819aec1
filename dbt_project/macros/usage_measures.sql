-- noqa: disable=LT02
-- (the macro's body is SQL, not indented inside the macro block; the models that call it are
-- linted with it rendered)
{#- The usage measures of docs/metrics.md for every reported period and intervention, per LDU when
    by_ldu is true and for the division as a whole otherwise. One definition serves both marts,
    so the division's counts are the LDUs' counts summed, its rates come from those sums, its
    eligible caseload counts a person in two LDUs once and its median is over all its starts.

    The events (referrals, starts, endings) are counted once, in int_usage_events_counted,
    which the consistency funnels read too; the eligible caseload is counted once, in
    int_eligible_caseload_counted (incremental by period); this macro puts them on the spine of
    periods, LDUs and interventions, with the zeros and the rates. -#}
{#- The join condition that puts a dated row in a period: the calendar month of its date is one of
    the period's months (int_period_months_listed), an equality join, exact because periods are
    whole months. Every model that meets dates with periods this way says so through this macro,
    so the rule has one home. -#}
{% macro in_period_month(date_column, period_months) -%}
    cast({{ dbt.date_trunc('month', date_column) }} as date) = {{ period_months }}.month_start
{%- endmacro %}

{% macro usage_measures(by_ldu) %}
{% set ldu = 'ldu_code, ' if by_ldu else '' %}
{% set keys = ['period_type', 'period'] + (['ldu_code'] if by_ldu else [])
    + ['intervention_code'] %}
with periods as (
    select * from {{ ref('int_periods_generated') }}
),

ldus as (
    select ldu_code from {{ ref('ldus') }}
),

interventions as (
    select intervention_code from {{ ref('interventions') }}
),

event_counts as (
    -- the LDUs' rows, or the division's
    select * from {{ ref('int_usage_events_counted') }}
    where {{ 'not ' if by_ldu else '' }}is_division_total
),

spine as (
    select
        -- the period's columns, whatever the period model carries; final picks the published ones
        periods.*,
        {% if by_ldu %}ldus.ldu_code,{% endif %}
        interventions.intervention_code
    from periods
    {% if by_ldu %}cross join ldus{% endif %}
    cross join interventions
),

eligible_counts as (
    -- the LDUs' rows, or the division's (int_eligible_caseload_counted: each eligible person
    -- once per LDU, or once for the division, in each period)
    select
        period_type,
        period,
        {{ ldu }}intervention_code,
        eligible_caseload
    from {{ ref('int_eligible_caseload_counted') }}
    where {{ 'not ' if by_ldu else '' }}is_division_total
),

counted as (
    select
        spine.*,
        cast(coalesce(eligible_counts.eligible_caseload, 0) as bigint) as eligible_caseload,
        cast(coalesce(event_counts.referrals, 0) as bigint) as referrals,
        cast(coalesce(event_counts.starts, 0) as bigint) as starts,
        cast(coalesce(event_counts.completions, 0) as bigint) as completions,
        cast(coalesce(event_counts.non_completions, 0) as bigint) as non_completions,
        cast(coalesce(event_counts.timely_starts, 0) as bigint) as timely_starts,
        cast(event_counts.median_days_to_start as double) as median_days_to_start
    from spine
    left join eligible_counts
        on {{ equal_keys('spine', 'eligible_counts', keys) }}
    left join event_counts
        on {{ equal_keys('spine', 'event_counts', keys) }}
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
        100.0 * cast(referrals as double) / nullif(eligible_caseload, 0) as referral_rate,
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
