{#- Off DuckDB the sources are Parquet files that ICW exported from the warehouse, or that its
    statistics asset wrote (orchestration/transformation/spark.py): register each folder as an
    external table before dbt builds anything. The run names them in the var icw_spark_sources,
    {schema: [table, ...]}; a dbt run by hand reads raw.* only. Dropping an external table
    leaves its files alone. spark.sql takes one statement at a time, hence one query each. -#}
{% macro register_parquet_sources() %}
    {%- if execute and target.type == 'spark' and flags.WHICH in ('build', 'run', 'seed', 'test') -%}
        {%- set root = var('icw_spark_dir', env_var('ICW_HOME', '../data') ~ '/spark') -%}
        {%- set default = {'raw': ['referrals', 'completions', 'caseload']} -%}
        {%- for schema, names in var('icw_spark_sources', default).items() -%}
            {%- do run_query('create schema if not exists ' ~ schema) -%}
            {%- for name in names -%}
                {%- do run_query('drop table if exists ' ~ schema ~ '.' ~ name) -%}
                {%- do run_query('create table ' ~ schema ~ '.' ~ name ~ " using parquet location '"
                    ~ root ~ '/sources/' ~ schema ~ '/' ~ name ~ "'") -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
