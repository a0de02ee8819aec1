select
    ldu_code,
    ldu_name,
    region
from marts.ldus
