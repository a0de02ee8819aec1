{#- The contracts' not_null constraints on Spark's Parquet tables (docs/spark.md).

    dbt-spark declares them with `alter table ... change column ... set not null`, which only
    Delta tables accept, and it assumes Delta when no file_format is set: every published model
    failed with UNSUPPORTED_FEATURE.TABLE_OPERATION. ICW's Spark tables are Parquet, which stores
    no constraint, so the constraint is checked instead: the model fails, as it would on DuckDB,
    when a not_null column holds a NULL. This overrides dbt-spark's macro of the same name (the
    root project's macros come first in dispatch); DuckDB never calls it. -#}
{% macro spark__persist_constraints(relation, model) %}
    {%- if config.get('contract').enforced and execute -%}
        {%- for column_name, column in model.columns.items() -%}
            {%- for constraint in column.constraints if constraint.type == 'not_null' -%}
                {%- set nulls = run_query('select count(*) from ' ~ relation ~ ' where '
                    ~ column_name ~ ' is null').columns[0].values()[0] -%}
                {%- if nulls > 0 -%}
                    {{ exceptions.raise_compiler_error(relation ~ '.' ~ column_name ~ ' has '
                        ~ nulls ~ ' NULL values; its contract says not_null') }}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
