-- sqlfluff:indentation:template_blocks_indent:False
-- One row per financial year, intervention, dimension (GENDER, ETHNICITY_GROUP, AGE_BAND) and
-- group (the dimension's values and UNKNOWN), zeros included: the division's eligible caseload,
-- referrals and endings by the group a person was in during the year (docs/metrics.md).
with periods as (
    select * from {{ ref('int_periods_generated') }}
    where period_type = 'YEAR'
),

year_months as (
    select * from {{ ref('int_period_months_listed') }}
    where period_type = 'YEAR'
),

interventions as (
    select intervention_code from {{ ref('interventions') }}
),

diversity_groups as (
    select * from {{ ref('diversity_groups') }}
),

person_groups as (
    select * from {{ ref('int_person_groups_selected') }}
),

quarterly_persons as (
    select * from {{ ref('int_eligible_persons_quarterly') }}
),

referrals as (
    select * from {{ ref('int_referrals_started') }}
),

endings as (
    -- orphans (no referral yet) count in no measure
    select * from {{ ref('int_completions_matched') }}
    where not is_orphan
),

spine as (
    select
        -- the period's columns, whatever the period model carries; final picks the published ones
        periods.*,
        interventions.intervention_code,
        diversity_groups.dimension,
        diversity_groups.group_value,
        diversity_groups.display_order
    from periods
    cross join interventions
    cross join diversity_groups
),

eligible_persons as (
    -- each person eligible in at least one of the year's snapshots, once, in any LDU: rolled up
    -- from the persons counted once per quarter, LDU and intervention
    select distinct
        financial_year as period,
        intervention_code,
        person_id
    from quarterly_persons
),

eligible_in_year as (
    select
        period,
        intervention_code,
        person_id,
        1 as is_eligible,
        0 as is_referral,
        0 as is_completion,
        0 as is_non_completion
    from eligible_persons
),

referrals_in_year as (
    select
        year_months.period,
        referrals.intervention_code,
        referrals.person_id,
        0 as is_eligible,
        1 as is_referral,
        0 as is_completion,
        0 as is_non_completion
    from referrals
    inner join year_months
        on {{ in_period_month('referrals.referral_date', 'year_months') }}
),

endings_in_year as (
    -- a completion belongs to its matched referral's intervention; its person is the person
    -- the completion row names; NEUTRAL endings count in neither completions nor non-completions
    select
        year_months.period,
        endings.intervention_code,
        endings.person_id,
        0 as is_eligible,
        0 as is_referral,
        case when endings.ending_type = 'COMPLETION' then 1 else 0 end as is_completion,
        case when endings.ending_type = 'NON_COMPLETION' then 1 else 0 end as is_non_completion
    from endings
    inner join year_months
        on {{ in_period_month('endings.end_date', 'year_months') }}
),

counted_people as (
    -- the eligible persons and the events, counted together: each in the group its person was
    -- in during the year
    select * from eligible_in_year
    union all
    select * from referrals_in_year
    union all
    select * from endings_in_year
),

grouped as (
    -- an eligible person always has a snapshot in the year; a referral or completion whose
    -- person has none counts in UNKNOWN
    select
        counted_people.*,
        person_groups.gender,
        person_groups.ethnicity_group,
        person_groups.age_band
    from counted_people
    left join person_groups
        on {{ equal_keys('counted_people', 'person_groups', ['period', 'person_id']) }}
),

{#- The dimensions, each with the column of int_person_groups_selected that holds its group. -#}
{%- set dimensions = [
    ('GENDER', 'gender'),
    ('ETHNICITY_GROUP', 'ethnicity_group'),
    ('AGE_BAND', 'age_band'),
] %}

by_dimension as (
    {%- for dimension, column in dimensions %}
    {% if not loop.first %}
    union all
    {% endif %}
    select
        period,
        intervention_code,
        '{{ dimension }}' as dimension,
        coalesce({{ column }}, 'UNKNOWN') as group_value,
        is_eligible,
        is_referral,
        is_completion,
        is_non_completion
    from grouped
    {%- endfor %}
),

group_counts as (
    select
        period,
        intervention_code,
        dimension,
        group_value,
        sum(is_eligible) as eligible_caseload,
        sum(is_referral) as referrals,
        sum(is_completion) as completions,
        sum(is_non_completion) as non_completions
    from by_dimension
    group by period, intervention_code, dimension, group_value
),

counted as (
    select
        spine.*,
        cast(coalesce(group_counts.eligible_caseload, 0) as bigint) as eligible_caseload,
        cast(coalesce(group_counts.referrals, 0) as bigint) as referrals,
        cast(coalesce(group_counts.completions, 0) as bigint) as completions,
        cast(coalesce(group_counts.non_completions, 0) as bigint) as non_completions
    from spine
    left join group_counts
        on {{ equal_keys('spine', 'group_counts', [
            'period', 'intervention_code', 'dimension', 'group_value',
        ]) }}
),

final as (
    select
        period_type,
        period,
        period_start,
        period_end,
        is_partial,
        intervention_code,
        dimension,
        group_value,
        cast(display_order as integer) as display_order,
        eligible_caseload,
        referrals,
        cast(100.0 * cast(referrals as double) / nullif(eligible_caseload, 0) as double)
            as referral_rate,
        completions,
        non_completions,
        cast(completions as double) / nullif(completions + non_completions, 0)
            as completion_rate
    from counted
)

select * from final
