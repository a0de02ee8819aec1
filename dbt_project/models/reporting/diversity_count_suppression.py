"""reporting.diversity_count_suppression: which counts of the diversity tables are hidden, why.

Computed by `orchestration.statistics.disclosure.suppress_cells` from the exact counts of
`diversity_table_counts`: counts of 1 to 4 (primary), then complementary (secondary) cells until
an intruder's audit (a linear programme per year and count, over the three linked tables) can
work none of them out. `diversity_table_cells` applies it. Keys and labels only, no counts.
Types are set here; `matches_declared_columns` checks them against
diversity_count_suppression.yml.
"""

COLUMN_TYPES = (
    ("period_type", "varchar"),
    ("period", "varchar"),
    ("measure", "varchar"),
    ("dimension", "varchar"),
    ("row_key", "varchar"),
    ("column_key", "varchar"),
    ("count_suppression", "varchar"),
    ("suppression_round", "integer"),
)
ORDER_BY = "period_type, period, measure, dimension, row_key, column_key"


def model(dbt, session):
    """Suppress the diversity tables' counts until the audit finds nothing to work out."""
    from orchestration.statistics import disclosure
    from orchestration.transformation.python_models import typed_relation

    dbt.config(materialized="table")
    cells = dbt.ref("diversity_table_counts").order(ORDER_BY).df()
    suppression = disclosure.suppress_cells(cells)
    return typed_relation(
        session, suppression, "diversity_count_suppression_computed", COLUMN_TYPES, ORDER_BY
    )
