"""Stand-ins for dbt's cross-database macros (`dbt.date_trunc(...)` and friends), so that
sqlfluff's jinja templater can render the models without dbt. They return DuckDB SQL of the same
shape as dbt-duckdb's; only the linter uses them."""


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"date_add({from_date_or_timestamp}, interval ({interval}) {datepart})"


def datediff(first_date, second_date, datepart):
    return f"date_diff('{datepart}', {first_date}, {second_date})"


def last_day(date, datepart):
    return f"last_day({date})"


def right(string_text, length_expression):
    return f"right({string_text}, {length_expression})"


def type_string():
    return "varchar"


def type_bigint():
    return "bigint"


def type_timestamp():
    return "timestamp"
