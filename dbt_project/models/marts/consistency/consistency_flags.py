"""marts.consistency_flags (docs/metrics.md): is an LDU out of line with the division?

A dbt Python model so that the statistics have one implementation: `orchestration.statistics.flags`
(funnel limits, z-scores, levels, phi, the homogeneity test), unit-tested against the published
reference values. This model only feeds it the counts from `int_flags_measures_unioned` and
casts the result to the published column types.

dbt-duckdb does not apply contracts to Python models, so the types are set here and the blocking
test `matches_declared_columns` checks the table against the columns declared in
_consistency.yml (names, order and types).
"""

# Published columns (docs/metrics.md order), then the period columns every period row carries.
COLUMN_TYPES = (
    ("period_type", "varchar"),
    ("period", "varchar"),
    ("intervention_code", "varchar"),
    ("measure", "varchar"),
    ("ldu_code", "varchar"),
    ("numerator", "bigint"),
    ("denominator", "double"),
    ("value", "double"),
    ("division_value", "double"),
    ("z_score", "double"),
    ("lower_95", "double"),
    ("upper_95", "double"),
    ("lower_998", "double"),
    ("upper_998", "double"),
    ("direction", "varchar"),
    ("level", "varchar"),
    ("phi", "double"),
    ("level_adjusted", "varchar"),
    ("homogeneity_p_value", "double"),
    ("period_start", "date"),
    ("period_end", "date"),
    ("is_partial", "boolean"),
)
ORDER_BY = "period_type, period_start, period, intervention_code, measure, ldu_code"


def model(dbt, session):
    """Flag every (period, intervention, measure) group's LDUs (orchestration.statistics)."""
    from orchestration.statistics import flags as stats
    from orchestration.transformation.python_models import typed_relation

    dbt.config(materialized="table")
    # In a fixed order: floating-point sums depend on the order of their terms, and a re-run
    # must give the same bits.
    measures = (
        dbt.ref("int_flags_measures_unioned")
        .order("period_type, period, intervention_code, measure, ldu_code")
        .df()
    )
    flags = stats.consistency_flags(measures)
    return typed_relation(session, flags, "consistency_flags_computed", COLUMN_TYPES, ORDER_BY)
