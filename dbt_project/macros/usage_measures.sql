-- noqa: disable=LT02
-- (the macro's body is SQL, not indented inside the macro block; the models that call it are
-- linted with it rendered)
{#- The usage measures of docs/metrics.md for every reported period and intervention, per LDU when
    by_ldu is true and for the division as a whole otherwise. One definition serves both marts,
    so the division's counts are the LDUs' counts summed, its rates come from those sums, its
    eligible caseload counts a person in two LDUs once and its median is over all its starts.

    The events (referrals, starts, endings) are counted once, in int_usage_events_counted,
    which the consistency funnels read too; this macro adds the eligible caseload, the zeros
    and the rates. A month's eligible caseload counts its snapshot rows, matched to periods
    through the calendar month of their date (int_period_months_listed): an equality join,
    exact because periods are whole months. Quarters and years roll up from the persons counted
    once per quarter, LDU and intervention (int_eligible_persons_quarterly). -#}
{#- The join condition that puts a dated row in a period: the calendar month of its date is one of
    the period's months (int_period_months_listed), an equality join, exact because periods are
    whole months. Every model that meets dates with periods this way says so through this macro,
    so the rule has one home. -#}
{% macro in_period_month(date_column, period_months) -%}
    cast({{ dbt.date_trunc('month', date_column) }} as date) = {{ period_months }}.month_start
{%- endmacro %}

{% macro usage_measures(by_ldu) %}
{% set ldu = 'ldu_code, ' if by_ldu else '' %}
with periods as (
    select * from {{ ref('int_periods_generated') }}
),

period_months as (
    select * from {{ ref('int_period_months_listed') }}
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

eligible_counts_monthly as (
    -- a month has one snapshot and a person is in it once (tested on stg_caseload), so a
    -- month's eligible rows are distinct persons: counting rows is exact, and much faster
    select
        period_months.period_type,
        period_months.period,
        {% if by_ldu %}caseload_eligible.ldu_code,{% endif %}
        caseload_eligible.intervention_code,
        count(*) as eligible_caseload
    from caseload_eligible
    inner join period_months
        on {{ in_period_month('caseload_eligible.snapshot_date', 'period_months') }}
    where period_months.period_type = 'MONTH'
    group by
        period_months.period_type,
        period_months.period,
        {{ ldu }}caseload_eligible.intervention_code
),

{#- A quarter's or a year's eligible persons, each once: per LDU, or for the division, where a
    person in two LDUs is one person. The LDU's quarter is already one row per person. -#}
{%- set longer_periods = [('QUARTER', 'financial_quarter'), ('YEAR', 'financial_year')] %}
{%- for period_type, period_column in longer_periods %}

eligible_counts_{{ period_column }} as (
    -- rolled up from the persons counted once per quarter (int_eligible_persons_quarterly): a
    -- plain distinct, then a count, which DuckDB spills under the memory cap
    select
        '{{ period_type }}' as period_type,
        period,
        {{ ldu }}intervention_code,
        count(*) as eligible_caseload
    from (
        select {% if not (by_ldu and period_type == 'QUARTER') %}distinct{% endif %}
            {{ period_column }} as period,
            {{ ldu }}intervention_code,
            person_id
        from {{ ref('int_eligible_persons_quarterly') }}
    ) as persons
    group by period, {{ ldu }}intervention_code
),
{%- endfor %}

eligible_counts as (
    select * from eligible_counts_monthly
    union all
    select * from eligible_counts_financial_quarter
    union all
    select * from eligible_counts_financial_year
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
    left join eligible_counts using (period_type, period, {{ ldu }}intervention_code)
    left join event_counts using (period_type, period, {{ ldu }}intervention_code)
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
        cast(100.0 * referrals / nullif(eligible_caseload, 0) as double) as referral_rate,
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
