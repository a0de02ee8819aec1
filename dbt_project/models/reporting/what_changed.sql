-- What changed since the last report: the one home of the rule. The baseline is the latest
-- publication of an earlier reporting month (published_history, written by each publish), so
-- a re-run within a month compares with what readers were sent. Findings match on LDU,
-- intervention, measure and period type, so a quarter rolling over is not "cleared". Figures
-- are the published measures of periods that had ended by the baseline's reporting month;
-- a revision's reason comes from the versions of the records dated in the period.
-- Without an earlier publication the table holds one NO_EARLIER_REPORT row.
{%- set measures = [
    'eligible_caseload', 'referrals', 'referral_rate', 'starts', 'completions',
    'non_completions', 'completion_rate', 'timely_starts', 'timely_start_rate',
    'median_days_to_start',
] %}
{%- set tolerance = '0.000000001' %}

with current_periods as (
    select * from {{ ref('current_periods') }}
),

findings_now as (
    select * from {{ ref('current_findings') }}
),

flags as (
    select * from {{ ref('consistency_flags') }}
),

periods as (
    select * from {{ ref('periods') }}
),

ldu_measures_now as (
    select * from {{ ref('ldu_intervention_measures') }}
),

division_measures_now as (
    select * from {{ ref('division_intervention_measures') }}
),

referrals_current as (
    select * from {{ ref('int_referrals_current_selected') }}
),

referral_versions as (
    select * from {{ ref('stg_referrals') }}
),

completion_rows as (
    select * from {{ ref('stg_completions') }}
),

publications as (
    select * from {{ source('published_history', 'publications') }}
),

findings_published as (
    select * from {{ source('published_history', 'published_current_findings') }}
),

ldu_measures_published as (
    select * from {{ source('published_history', 'published_ldu_intervention_measures') }}
),

division_measures_published as (
    select * from {{ source('published_history', 'published_division_intervention_measures') }}
),

reporting_month as (
    select period as reporting_month
    from current_periods
    where period_type = 'MONTH'
),

earlier_publications as (
    select publications.*
    from publications
    inner join reporting_month
        on publications.reporting_month < reporting_month.reporting_month
),

baseline as (
    select
        reporting_month.reporting_month,
        earlier_publications.publication_id,
        earlier_publications.reporting_month as baseline_reporting_month,
        earlier_publications.published_at as baseline_published_at,
        earlier_publications.data_as_at as baseline_data_as_at,
        baseline_month.period_end as baseline_month_end
    from earlier_publications
    cross join reporting_month
    left join periods as baseline_month
        on
            baseline_month.period_type = 'MONTH'
            and earlier_publications.reporting_month = baseline_month.period
    where
        earlier_publications.publication_id
        = (select max(latest.publication_id) from earlier_publications as latest)
),

-- findings: now against the baseline's
findings_before as (
    select findings_published.*
    from findings_published
    inner join baseline on findings_published.publication_id = baseline.publication_id
),

quarter_flags as (
    select
        ldu_code,
        intervention_code,
        measure,
        case when level in ('ALARM', 'ALERT') then 1 else 0 end as is_flagged,
        row_number() over (
            partition by ldu_code, intervention_code, measure order by period_start
        ) as quarter_number
    from flags
    where period_type = 'QUARTER'
),

-- quarters in a row at ALARM or ALERT up to the latest (gaps and islands without a window
-- over the islands: the latest quarter's number less that of the last quarter not flagged)
quarter_runs as (
    select
        ldu_code,
        intervention_code,
        measure,
        max(quarter_number)
        - coalesce(max(case when is_flagged = 0 then quarter_number end), 0)
            as consecutive_quarters
    from quarter_flags
    group by ldu_code, intervention_code, measure
),

finding_changes as (
    select
        findings_now.period as period_now,
        findings_before.period as period_before,
        findings_now.level as level_now,
        findings_before.level as level_before,
        findings_before.value as value_before,
        findings_now.value as value_now,
        case
            when findings_before.ldu_code is null then 'FINDING_NEW'
            when findings_now.ldu_code is null then 'FINDING_CLEARED'
            else 'FINDING_PERSISTING'
        end as change_kind,
        coalesce(findings_now.ldu_code, findings_before.ldu_code) as ldu_code,
        coalesce(
            findings_now.intervention_code, findings_before.intervention_code
        ) as intervention_code,
        coalesce(findings_now.measure, findings_before.measure) as measure,
        coalesce(findings_now.period_type, findings_before.period_type) as period_type,
        coalesce(findings_now.direction, findings_before.direction) as direction
    from findings_now
    full outer join findings_before
        on
            findings_now.ldu_code = findings_before.ldu_code
            and findings_now.intervention_code = findings_before.intervention_code
            and findings_now.measure = findings_before.measure
            and findings_now.period_type = findings_before.period_type
),

findings_with_runs as (
    select
        finding_changes.*,
        cast(quarter_runs.consecutive_quarters as integer) as consecutive_quarters
    from finding_changes
    left join quarter_runs
        on
            finding_changes.ldu_code = quarter_runs.ldu_code
            and finding_changes.intervention_code = quarter_runs.intervention_code
            and finding_changes.measure = quarter_runs.measure
),

-- figures: every published measure, one row each, now and at the baseline
figures_now as (
    {%- for measure in measures %}
        select
            period_type,
            period,
            ldu_code,
            intervention_code,
            '{{ measure | upper }}' as measure,
            cast({{ measure }} as double) as figure_value
        from ldu_measures_now
        union all
        select
            period_type,
            period,
            cast(null as {{ dbt.type_string() }}) as ldu_code,
            intervention_code,
            '{{ measure | upper }}' as measure,
            cast({{ measure }} as double) as figure_value
        from division_measures_now
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

figures_before as (
    {%- for measure in measures %}
        select
            ldu_measures_published.period_type,
            ldu_measures_published.period,
            ldu_measures_published.ldu_code,
            ldu_measures_published.intervention_code,
            '{{ measure | upper }}' as measure,
            cast(ldu_measures_published.{{ measure }} as double) as figure_value
        from ldu_measures_published
        inner join baseline on ldu_measures_published.publication_id = baseline.publication_id
        union all
        select
            division_measures_published.period_type,
            division_measures_published.period,
            cast(null as {{ dbt.type_string() }}) as ldu_code,
            division_measures_published.intervention_code,
            '{{ measure | upper }}' as measure,
            cast(division_measures_published.{{ measure }} as double) as figure_value
        from division_measures_published
        inner join baseline
            on division_measures_published.publication_id = baseline.publication_id
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

-- periods that had ended by the baseline's reporting month: a figure of theirs that moves was
-- revised (a period still running then moves because time passed)
past_periods as (
    select
        periods.period_type,
        periods.period,
        periods.period_start,
        periods.period_end
    from periods
    inner join baseline on periods.period_end <= baseline.baseline_month_end
),

revised_figures as (
    select
        figures_now.period_type,
        figures_now.period,
        past_periods.period_start,
        past_periods.period_end,
        figures_now.ldu_code,
        figures_now.intervention_code,
        figures_now.measure,
        figures_before.figure_value as value_before,
        figures_now.figure_value as value_now
    from figures_now
    inner join figures_before
        on
            figures_now.period_type = figures_before.period_type
            and figures_now.period = figures_before.period
            and coalesce(figures_now.ldu_code, '-') = coalesce(figures_before.ldu_code, '-')
            and figures_now.intervention_code = figures_before.intervention_code
            and figures_now.measure = figures_before.measure
    inner join past_periods
        on
            figures_now.period_type = past_periods.period_type
            and figures_now.period = past_periods.period
    where
        (figures_now.figure_value is null) <> (figures_before.figure_value is null)
        or abs(figures_now.figure_value - figures_before.figure_value) > {{ tolerance }}
),

-- why: a record first delivered after the baseline's data was LATE; one delivered before it
-- whose current version came after it was RESTATED
referral_first_seen as (
    select
        referral_id,
        min(as_at_date) as first_seen_on
    from referral_versions
    group by referral_id
),

completion_deliveries as (
    select
        referral_id,
        min(as_at_date) as first_seen_on,
        max(as_at_date) as last_seen_on,
        max(end_date) as end_date,
        max(start_date) as start_date
    from completion_rows
    group by referral_id
),

record_events as (
    select
        referrals_current.referral_id,
        referrals_current.ldu_code,
        referrals_current.intervention_code,
        referrals_current.referral_date as event_date,
        case
            when referral_first_seen.first_seen_on > baseline.baseline_data_as_at
                then 1
            else 0
        end as is_late,
        case
            when
                referral_first_seen.first_seen_on <= baseline.baseline_data_as_at
                and referrals_current.as_at_date > baseline.baseline_data_as_at
                then 1
            else 0
        end as is_restated
    from referrals_current
    inner join referral_first_seen
        on referrals_current.referral_id = referral_first_seen.referral_id
    cross join baseline
    union all
    select
        referrals_current.referral_id,
        referrals_current.ldu_code,
        referrals_current.intervention_code,
        coalesce(referrals_current.start_date, completion_deliveries.start_date) as event_date,
        case
            when
                referral_first_seen.first_seen_on > baseline.baseline_data_as_at
                or completion_deliveries.first_seen_on > baseline.baseline_data_as_at
                then 1
            else 0
        end as is_late,
        case
            when
                referral_first_seen.first_seen_on <= baseline.baseline_data_as_at
                and (
                    referrals_current.as_at_date > baseline.baseline_data_as_at
                    or completion_deliveries.last_seen_on > baseline.baseline_data_as_at
                )
                then 1
            else 0
        end as is_restated
    from referrals_current
    inner join referral_first_seen
        on referrals_current.referral_id = referral_first_seen.referral_id
    left join completion_deliveries
        on referrals_current.referral_id = completion_deliveries.referral_id
    cross join baseline
    union all
    select
        referrals_current.referral_id,
        referrals_current.ldu_code,
        referrals_current.intervention_code,
        completion_deliveries.end_date as event_date,
        case
            when completion_deliveries.first_seen_on > baseline.baseline_data_as_at
                then 1
            else 0
        end as is_late,
        case
            when
                completion_deliveries.first_seen_on <= baseline.baseline_data_as_at
                and (
                    completion_deliveries.last_seen_on > baseline.baseline_data_as_at
                    or referrals_current.as_at_date > baseline.baseline_data_as_at
                )
                then 1
            else 0
        end as is_restated
    from referrals_current
    inner join completion_deliveries
        on referrals_current.referral_id = completion_deliveries.referral_id
    cross join baseline
),

changed_events as (
    select *
    from record_events
    where event_date is not null and (is_late = 1 or is_restated = 1)
),

figure_reasons as (
    select
        revised_figures.period_type,
        revised_figures.period,
        revised_figures.ldu_code,
        revised_figures.intervention_code,
        revised_figures.measure,
        count(distinct case
            when changed_events.is_late = 1
                then changed_events.referral_id
        end) as late_records,
        count(distinct case
            when
                changed_events.is_restated = 1
                and changed_events.is_late = 0
                then changed_events.referral_id
        end) as restated_records
    from revised_figures
    left join changed_events
        on
            revised_figures.intervention_code = changed_events.intervention_code
            and (
                revised_figures.ldu_code is null
                or revised_figures.ldu_code = changed_events.ldu_code
            )
            and changed_events.event_date between revised_figures.period_start
            and revised_figures.period_end
    group by
        revised_figures.period_type,
        revised_figures.period,
        revised_figures.ldu_code,
        revised_figures.intervention_code,
        revised_figures.measure
),

figure_changes as (
    select
        'FIGURE_REVISED' as change_kind,
        revised_figures.ldu_code,
        revised_figures.intervention_code,
        revised_figures.measure,
        revised_figures.period_type,
        revised_figures.period as period_now,
        revised_figures.period as period_before,
        revised_figures.value_before,
        revised_figures.value_now,
        figure_reasons.late_records,
        figure_reasons.restated_records,
        case
            when figure_reasons.late_records > 0 and figure_reasons.restated_records > 0
                then 'LATE_AND_RESTATED'
            when figure_reasons.late_records > 0 then 'LATE'
            when figure_reasons.restated_records > 0 then 'RESTATED'
            else 'UNKNOWN'
        end as reason
    from revised_figures
    inner join figure_reasons
        on
            revised_figures.period_type = figure_reasons.period_type
            and revised_figures.period = figure_reasons.period
            and coalesce(revised_figures.ldu_code, '-') = coalesce(figure_reasons.ldu_code, '-')
            and revised_figures.intervention_code = figure_reasons.intervention_code
            and revised_figures.measure = figure_reasons.measure
),

changes as (
    select
        change_kind,
        ldu_code,
        intervention_code,
        measure,
        period_type,
        period_now,
        period_before,
        level_now,
        level_before,
        direction,
        consecutive_quarters,
        value_before,
        value_now,
        cast(null as {{ dbt.type_string() }}) as reason,
        cast(null as bigint) as late_records,
        cast(null as bigint) as restated_records
    from findings_with_runs
    union all
    select
        change_kind,
        ldu_code,
        intervention_code,
        measure,
        period_type,
        period_now,
        period_before,
        cast(null as {{ dbt.type_string() }}) as level_now,
        cast(null as {{ dbt.type_string() }}) as level_before,
        cast(null as {{ dbt.type_string() }}) as direction,
        cast(null as integer) as consecutive_quarters,
        value_before,
        value_now,
        reason,
        late_records,
        restated_records
    from figure_changes
),

with_baseline as (
    select
        baseline.reporting_month,
        baseline.baseline_reporting_month,
        baseline.baseline_published_at,
        changes.*
    from changes
    cross join baseline
),

no_earlier_report as (
    select
        reporting_month.reporting_month,
        cast(null as {{ dbt.type_string() }}) as baseline_reporting_month,
        cast(null as timestamp) as baseline_published_at,
        'NO_EARLIER_REPORT' as change_kind,
        cast(null as {{ dbt.type_string() }}) as ldu_code,
        cast(null as {{ dbt.type_string() }}) as intervention_code,
        cast(null as {{ dbt.type_string() }}) as measure,
        cast(null as {{ dbt.type_string() }}) as period_type,
        cast(null as {{ dbt.type_string() }}) as period_now,
        cast(null as {{ dbt.type_string() }}) as period_before,
        cast(null as {{ dbt.type_string() }}) as level_now,
        cast(null as {{ dbt.type_string() }}) as level_before,
        cast(null as {{ dbt.type_string() }}) as direction,
        cast(null as integer) as consecutive_quarters,
        cast(null as double) as value_before,
        cast(null as double) as value_now,
        cast(null as {{ dbt.type_string() }}) as reason,
        cast(null as bigint) as late_records,
        cast(null as bigint) as restated_records
    from reporting_month
    where not exists (select 1 from baseline)
),

-- the same columns in the same order: with_baseline's and no_earlier_report's rows together
all_rows as (
    select * from with_baseline
    union all
    select * from no_earlier_report
),

final as (
    -- the published column order (docs/metrics.md) puts the change beside the values
    select  -- noqa: ST06
        reporting_month,
        baseline_reporting_month,
        baseline_published_at,
        change_kind,
        ldu_code,
        intervention_code,
        measure,
        period_type,
        period_now,
        period_before,
        level_now,
        level_before,
        direction,
        consecutive_quarters,
        value_before,
        value_now,
        value_now - value_before as change,  -- noqa: RF04
        case
            when value_before <> 0
                then 100 * (value_now - value_before) / cast(value_before as double)
        end as change_pct,
        reason,
        late_records,
        restated_records
    from all_rows
)

select * from final
