-- Every gender, ethnicity group and age band on the caseload is a group of seed diversity_groups,
-- the one list of them in the dbt project. division_diversity_measures reports only the seed's
-- groups, so a value the loader wrote but the seed lacks (an age band is computed from the date
-- of birth while loading) would drop its people from the published table unseen.
-- Returns each caseload value the seed lacks.
{{ config(meta={'dagster': {'ref': {'name': 'stg_caseload'}}}) }}

with caseload as (
    select * from {{ ref('stg_caseload') }}
),

diversity_groups as (
    select * from {{ ref('diversity_groups') }}
),

caseload_groups as (
    select distinct
        'GENDER' as dimension,
        gender as group_value
    from caseload
    where gender is not null
    union all
    select distinct
        'ETHNICITY_GROUP' as dimension,
        ethnicity_group as group_value
    from caseload
    where ethnicity_group is not null
    union all
    select distinct
        'AGE_BAND' as dimension,
        age_band as group_value
    from caseload
    where age_band is not null
)

select caseload_groups.*
from caseload_groups
left join diversity_groups
    on
        caseload_groups.dimension = diversity_groups.dimension
        and caseload_groups.group_value = diversity_groups.group_value
where diversity_groups.group_value is null
