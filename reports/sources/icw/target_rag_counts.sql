-- LDU and intervention pairs at each RAG status per measure, current financial year
-- (reporting.target_rag_counts, built by dbt).
select
    measure,
    green,
    amber,
    red,
    no_data,
    no_target
from reporting.target_rag_counts
