{{ usage_measures(by_ldu=true) }}
