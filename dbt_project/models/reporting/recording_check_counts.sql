-- Each recording check with the records it found in the reporting month, in the current
-- financial year's months and in all months (marts.data_quality_issues by the month of each
-- record's date; current_periods), for the report's Data quality page.
with checks as (
    select * from {{ ref('recording_checks') }}
),

issues as (
    select * from {{ ref('data_quality_issues') }}
),

months as (
    select * from {{ ref('periods') }}
    where period_type = 'MONTH'
),

reporting_month as (
    select * from {{ ref('current_periods') }}
    where period_type = 'MONTH'
),

current_year as (
    select * from {{ ref('current_periods') }}
    where period_type = 'YEAR'
),

counted as (
    select
        checks.check_code,
        sum(
            case when issues.period = reporting_month.period then issues.record_count end
        ) as reporting_month_records,
        sum(
            case
                when
                    months.period_start
                    between current_year.period_start and current_year.period_end
                    then issues.record_count
            end
        ) as year_to_date_records,
        sum(issues.record_count) as all_months_records
    from checks
    left join issues on checks.check_code = issues.check_code
    left join months on issues.period = months.period
    cross join reporting_month
    cross join current_year
    group by checks.check_code
),

final as (
    select
        checks.check_order,
        checks.check_code,
        checks.check_name,
        checks.what_it_finds,
        cast(coalesce(counted.reporting_month_records, 0) as bigint) as reporting_month_records,
        cast(coalesce(counted.year_to_date_records, 0) as bigint) as year_to_date_records,
        cast(coalesce(counted.all_months_records, 0) as bigint) as all_months_records
    from checks
    inner join counted on checks.check_code = counted.check_code
)

select * from final
