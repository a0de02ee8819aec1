{{ usage_measures(by_ldu=false) }}
