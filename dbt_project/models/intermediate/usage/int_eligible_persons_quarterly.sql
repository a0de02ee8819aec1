-- sqlfluff:indentation:template_blocks_indent:False
-- One row per financial quarter, LDU, intervention and person eligible for the intervention in
-- at least one of the LDU's caseload snapshots dated in the quarter, with the date and the
-- reoffending band of the latest such snapshot. The persons are counted here once: the eligible
-- caseload of the usage marts' quarters and years (a person in two LDUs once for the division),
-- the strata of the flags' REFERRAL_RATIO and the diversity mart's eligible caseload all roll up
-- from this table rather than each grouping the whole caseload again (docs/metrics.md).
-- The quarter's columns come first and each quarter is computed from its own snapshots alone,
-- so the table can be rebuilt quarter by quarter. Written so that DuckDB can spill it under the
-- memory cap (docs/benchmarks.md): a grouped max of the snapshot date, then an equality join
-- back on the caseload's key (snapshot_date, person_id) for its band; no arg_max or window.
-- Incremental by quarter: a build deletes and inserts only the quarters of the caseload files
-- loaded since the table's last build (audit.loads: a LOADED caseload file whose load_id is above
-- built_from_load_id, the largest such load_id the table was built from; a file's snapshot date
-- is its as-at date). A restated snapshot replaces its rows whole under a new load_id, so its
-- quarter is rebuilt, even when every row of the new file was quarantined and the snapshot is
-- now empty. Every quarter is rebuilt when the table was built with other
-- eligibility rules (built_from_fingerprint: the rows of the eligibility and interventions
-- seeds) or has no watermark. A change to this SQL or to the SQL upstream needs
-- `--full-refresh`, which dbt does not detect by itself (docs/benchmarks.md, Issue 12).
{#- Incremental on DuckDB only, where audit.loads is: on another engine (Spark, Athena) a
    plain table, rebuilt whole by every build (docs/portable-sql.md). -#}
{{ config(
    materialized='incremental' if target.type == 'duckdb' else 'table',
    incremental_strategy='delete+insert',
    unique_key='financial_quarter',
    on_schema_change='sync_all_columns',
) }}

with period_months as (
    select * from {{ ref('int_period_months_listed') }}
),

quarter_months as (
    -- each month of a reported quarter, with its quarter and its financial year
    select
        quarters.month_start,
        quarters.period as financial_quarter,
        years.period as financial_year
    from period_months as quarters
    inner join period_months as years
        on quarters.month_start = years.month_start
    where
        quarters.period_type = 'QUARTER'
        and years.period_type = 'YEAR'
),

fingerprint as (
    -- the eligibility rules the quarters are computed with
    {%- if target.type == 'duckdb' %}
    select
        md5(
            (
                select
                    string_agg(
                        intervention_code || ':' || offence_category || ':' || reoffending_band,
                        ',' order by intervention_code, offence_category, reoffending_band
                    )
                from {{ ref('intervention_eligibility') }}
            )
            || '/'
            || (
                select
                    string_agg(
                        intervention_code || ':' || eligible_gender,
                        ',' order by intervention_code
                    )
                from {{ ref('interventions') }}
            )
        ) as built_from_fingerprint
    {%- else %}
    -- (no fingerprint where the table is rebuilt whole)
    select cast(null as {{ dbt.type_string() }}) as built_from_fingerprint
    {%- endif %}
),

{% if incremental_build() %}
caseload_loads as (
    -- every caseload file that changed raw.caseload: its snapshot (as-at) date replaced whole
    {{ loaded_caseload_files() }}
),

built as (
    -- the table's watermark and fingerprint: NULL in a table built before it had them
    select
        max(built_rows.built_from_load_id) as built_from_load_id,
        max(built_rows.built_from_fingerprint) as built_from_fingerprint
    from (
        select
            cast(null as bigint) as built_from_load_id,
            cast(null as {{ dbt.type_string() }}) as built_from_fingerprint
        union all by name
        select * from {{ this }}
    ) as built_rows
),

changed_quarters as (
    -- the quarters of the snapshots loaded since the last build; every quarter when the table
    -- was built with other eligibility rules or has no watermark
    select distinct quarter_months.financial_quarter
    from caseload_loads
    inner join quarter_months
        on {{ in_period_month('caseload_loads.as_at_date', 'quarter_months') }}
    cross join built
    cross join fingerprint
    where
        caseload_loads.load_id > coalesce(built.built_from_load_id, -1)
        or built.built_from_fingerprint is distinct from fingerprint.built_from_fingerprint
),

quarters_to_build as (
    select quarter_months.*
    from quarter_months
    inner join changed_quarters
        on quarter_months.financial_quarter = changed_quarters.financial_quarter
),
{% else %}
quarters_to_build as (
    select * from quarter_months
),
{% endif %}

loaded as (
    {{ caseload_watermark() }}
),

eligible_snapshots as (
    select * from {{ ref('int_caseload_eligibility_joined') }}
),

snapshot_bands as (
    -- the band is the snapshot's, whichever intervention it makes the person eligible for
    select
        snapshot_date,
        person_id,
        reoffending_band
    from {{ ref('stg_caseload') }}
),

latest_snapshots as (
    select
        quarters_to_build.financial_quarter,
        quarters_to_build.financial_year,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id,
        max(eligible_snapshots.snapshot_date) as latest_snapshot_date
    from eligible_snapshots
    inner join quarters_to_build
        on {{ in_period_month('eligible_snapshots.snapshot_date', 'quarters_to_build') }}
    group by
        quarters_to_build.financial_quarter,
        quarters_to_build.financial_year,
        eligible_snapshots.ldu_code,
        eligible_snapshots.intervention_code,
        eligible_snapshots.person_id
),

final as (
    select
        latest_snapshots.financial_quarter,
        latest_snapshots.financial_year,
        latest_snapshots.ldu_code,
        latest_snapshots.intervention_code,
        latest_snapshots.person_id,
        latest_snapshots.latest_snapshot_date,
        snapshot_bands.reoffending_band,
        loaded.built_from_load_id,
        fingerprint.built_from_fingerprint
    from latest_snapshots
    cross join loaded
    cross join fingerprint
    inner join snapshot_bands
        on
            latest_snapshots.latest_snapshot_date = snapshot_bands.snapshot_date
            and latest_snapshots.person_id = snapshot_bands.person_id
)

select * from final
