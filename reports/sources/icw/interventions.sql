select
    intervention_code,
    intervention_name,
    intervention_type
from marts.interventions
