-- One row per financial year, LDU, intervention and measure, with its RAG status (docs/metrics.md).
select
    financial_year,
    ldu_code,
    intervention_code,
    measure,
    actual,
    target,
    target_to_date,
    pct_of_target,
    rag
from marts.performance_against_target
