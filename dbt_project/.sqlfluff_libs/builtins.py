"""Stand-ins for dbt's `builtins.ref` and `builtins.source`, for sqlfluff.

The project's own ref() and source() macros (macros/relations_without_database.sql) call them,
so sqlfluff's jinja templater needs them to render the models without dbt. They render as
sqlfluff's dbt built-ins do (`ref('x')` as `x`, `source('s', 't')` as `s_t`); only the linter
uses them.
"""


class _Relation(str):
    """A relation's name that, like dbt's Relation, accepts `.include(...)`."""

    def include(self, **_parts):
        return self


def ref(*names, **_kwargs):
    """The model's name (the last positional argument; a package name may come first)."""
    return _Relation(names[-1])


def source(source_name, table_name):
    """`<source>_<table>`, as sqlfluff's own dbt built-in renders a source."""
    return _Relation(f"{source_name}_{table_name}")
