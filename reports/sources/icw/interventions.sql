select
    intervention_code,
    intervention_name,
    intervention_type,
    max_days_to_start
from marts.interventions
