-- One row per person per month-end snapshot; date of birth already reduced to an age band.
with source as (
    select * from {{ source('raw', 'caseload') }}
),

final as (
    select
        snapshot_date,
        person_id,
        ldu_code,
        sentence_type,
        reoffending_band,
        rosh_level,
        offence_category,
        gender,
        ethnicity_group,
        age_band,
        file_name,
        line_number,
        load_id
    from source
)

select * from final
