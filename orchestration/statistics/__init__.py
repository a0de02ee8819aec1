"""The warehouse's statistics, as plain Python: consistency flags and disclosure control.

`limits`, `levels` and `flags` compute `marts.consistency_flags` and the funnel the report draws
(docs/methods.md); the `disclosure` package suppresses the report's small counts and audits the
published tables as an intruder would. Each is pure functions of numpy arrays or pandas frames,
checked against published values in tests/unit, with no Dagster or dbt dependency: the dbt Python
models and the Dagster asset checks import these modules and only hand them frames.
"""
