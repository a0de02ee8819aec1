"""A stand-in for dbt's `adapter`, for sqlfluff.

`adapter.dispatch('name')(args)` renders as the SQL call `name(args)`: the linter judges the
model's layout, and each engine's implementation is checked by the dbt unit tests and by
tests/unit/test_portable_sql.py, not here.
"""


def dispatch(macro_name, macro_namespace=None):
    def call(*args, **_kwargs):
        return f"{macro_name}({', '.join(str(a) for a in args)})"

    return call
