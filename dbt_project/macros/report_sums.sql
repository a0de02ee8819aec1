{#
    How the report sums its figures: a year's performance_against_target rows (one home for
    the division's headline and each LDU's position), and usage measures over interventions.

    target_summary_columns: the targets' actuals where a target exists, their targets to date,
    and how many are GREEN, AMBER and RED.
    target_share_columns: the target to date and the share of it reached, for the count measures
    (STARTS, COMPLETIONS) only: a rate's target has no "to date" and its rows cannot be summed.
#}

{% macro target_summary_columns(targets) -%}
    sum(case when {{ targets }}.target is not null then {{ targets }}.actual end)
    as actual_with_target,
    sum({{ targets }}.target_to_date) as target_to_date,
    sum(case when {{ targets }}.rag = 'GREEN' then 1 else 0 end) as green_targets,
    sum(case when {{ targets }}.rag = 'AMBER' then 1 else 0 end) as amber_targets,
    sum(case when {{ targets }}.rag = 'RED' then 1 else 0 end) as red_targets
{%- endmacro %}

{% macro target_share_columns(measure, summary) -%}
    case
        when {{ measure }} in ('STARTS', 'COMPLETIONS') then {{ summary }}.target_to_date
    end as target_to_date,
    case
        when {{ measure }} in ('STARTS', 'COMPLETIONS')
            then cast({{ summary }}.actual_with_target as double)
            / nullif({{ summary }}.target_to_date, 0)
    end as pct_of_target
{%- endmacro %}

{#
    usage_sum_columns: a set of measures rows summed over interventions (and periods), so that
    the report's rates come from the sums (docs/metrics.md), never from averaging rates.
#}

{% macro usage_sum_columns(measures) -%}
    sum({{ measures }}.referrals) as referrals,
    sum({{ measures }}.starts) as starts,
    sum({{ measures }}.completions) as completions,
    sum({{ measures }}.completions + {{ measures }}.non_completions) as endings,
    sum({{ measures }}.timely_starts) as timely_starts
{%- endmacro %}
