{#- A view, not a table: writing its 1.5 million rows (division scale) cost more than joining
    the caseload to the two small seeds again in each model that reads it (docs/measures.md,
    Speed). -#}
{{ config(materialized='view') }}

-- One row per caseload snapshot row and intervention the person is eligible for in that
-- snapshot: (offence_category, reoffending_band) in the eligibility seed and gender allowed.
with caseload as (
    select * from {{ ref('stg_caseload') }}
),

eligibility as (
    select * from {{ ref('intervention_eligibility') }}
),

interventions as (
    select * from {{ ref('interventions') }}
),

final as (
    select
        caseload.snapshot_date,
        caseload.person_id,
        caseload.ldu_code,
        eligibility.intervention_code,
        caseload.reoffending_band,
        caseload.gender,
        caseload.ethnicity_group,
        caseload.age_band
    from caseload
    inner join eligibility
        on {{ equal_keys('caseload', 'eligibility', ['offence_category', 'reoffending_band']) }}
    inner join interventions
        on {{ equal_keys('eligibility', 'interventions', ['intervention_code']) }}
    where interventions.eligible_gender = 'ANY' or caseload.gender = interventions.eligible_gender
)

select * from final
