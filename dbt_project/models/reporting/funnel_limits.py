"""reporting.funnel_limits: each funnel's control limits over a grid of denominators, to draw.

Computed by `orchestration.statistics.flags.funnel_limit_grid` from the flags themselves, so the
funnel the report draws and the flags it shows come from one implementation (docs/methods.md).
Types are set here; `matches_declared_columns` checks them against funnel_limits.yml.
"""

COLUMN_TYPES = (
    ("period_type", "varchar"),
    ("period", "varchar"),
    ("intervention_code", "varchar"),
    ("measure", "varchar"),
    ("division_value", "double"),
    ("grid_index", "integer"),
    ("denominator", "double"),
    ("lower_95", "double"),
    ("upper_95", "double"),
    ("lower_998", "double"),
    ("upper_998", "double"),
)
ORDER_BY = "period_type, period, intervention_code, measure, grid_index"


def model(dbt, session):
    """Tabulate the 95 % and 99.8 % limits of every flagged group over 60 denominators."""
    from orchestration.statistics import flags as stats
    from orchestration.transformation.python_models import typed_relation

    dbt.config(materialized="table")
    # In a fixed order, as in consistency_flags: float sums depend on the order of their terms.
    flags = (
        dbt.ref("consistency_flags")
        .order("period_type, period, intervention_code, measure, ldu_code")
        .df()
    )
    grid = stats.funnel_limit_grid(flags)
    return typed_relation(session, grid, "funnel_limits_computed", COLUMN_TYPES, ORDER_BY)
