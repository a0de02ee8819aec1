{#- The built relation has exactly the columns declared in the model's YAML: the same names, in
    the same order, with the same data types. dbt enforces contracts on SQL models only; this
    test gives the Python models (consistency_flags, funnel_limits) the same guarantee, and fails
    the build (so blocks publication) when they drift. Types compare case-insensitively, and a
    declared `string` is DuckDB's VARCHAR. The Python models run on DuckDB alone: elsewhere SQL
    stand-ins with an enforced contract take their place, so the test is DuckDB's, reading its
    information_schema, and on another engine it finds nothing (docs/portable-sql.md). -#}
{% test matches_declared_columns(model) %}
    {{ return(adapter.dispatch('test_matches_declared_columns', 'icw')(model)) }}
{% endtest %}
