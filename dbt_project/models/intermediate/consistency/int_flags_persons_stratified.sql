-- N(i, s) of the indirectly standardised REFERRAL_RATIO (docs/metrics.md): per financial YEAR and
-- QUARTER, LDU, intervention and reoffending band, the persons eligible for the intervention in
-- the LDU's snapshots dated in the period. A person counts once per LDU, in the band of their
-- latest eligible snapshot in the period in that LDU.
-- Rolled up from the persons counted once per quarter (int_eligible_persons_quarterly), which
-- carries each person's latest eligible snapshot in the quarter and its band: a quarter's strata
-- are a plain count; a year's latest snapshot is the latest of its quarters', found by a grouped
-- max and an equality join back, which DuckDB spills under the memory cap (docs/benchmarks.md).
with quarterly_persons as (
    select * from {{ ref('int_eligible_persons_quarterly') }}
),

quarter_strata as (
    select
        'QUARTER' as period_type,
        financial_quarter as period,
        ldu_code,
        intervention_code,
        reoffending_band,
        count(*) as eligible_persons
    from quarterly_persons
    group by
        financial_quarter,
        ldu_code,
        intervention_code,
        reoffending_band
),

latest_in_year as (
    select
        financial_year,
        ldu_code,
        intervention_code,
        person_id,
        max(latest_snapshot_date) as latest_snapshot_date
    from {{ ref('int_eligible_persons_quarterly') }}
    group by
        financial_year,
        ldu_code,
        intervention_code,
        person_id
),

year_bands as (
    -- one row each: a person has one row per quarter, LDU and intervention, and the quarters of
    -- a year hold different snapshot dates
    select
        latest_in_year.financial_year,
        latest_in_year.ldu_code,
        latest_in_year.intervention_code,
        quarter_bands.reoffending_band
    from latest_in_year
    inner join {{ ref('int_eligible_persons_quarterly') }} as quarter_bands
        on
            latest_in_year.financial_year = quarter_bands.financial_year
            and latest_in_year.ldu_code = quarter_bands.ldu_code
            and latest_in_year.intervention_code = quarter_bands.intervention_code
            and latest_in_year.person_id = quarter_bands.person_id
            and latest_in_year.latest_snapshot_date = quarter_bands.latest_snapshot_date
),

year_strata as (
    select
        'YEAR' as period_type,
        financial_year as period,
        ldu_code,
        intervention_code,
        reoffending_band,
        count(*) as eligible_persons
    from year_bands
    group by
        financial_year,
        ldu_code,
        intervention_code,
        reoffending_band
),

final as (
    select * from year_strata
    union all
    select * from quarter_strata
)

select * from final
