"""Stand-ins for dbt's `builtins.ref` and `builtins.source`, which the project's own ref() and
source() macros call (macros/relations_without_database.sql), so that sqlfluff's jinja templater
can render the models without dbt. They render as sqlfluff's dbt built-ins do (`ref('x')` as
`x`, `source('s', 't')` as `s_t`); only the linter uses them."""


class _Relation(str):
    """A relation's name that, like dbt's Relation, accepts `.include(...)`."""

    def include(self, **_parts):
        return self


def ref(*names, **_kwargs):
    return _Relation(names[-1])


def source(source_name, table_name):
    return _Relation(f"{source_name}_{table_name}")
