"""Judging an extract's rows in SQL: each parsed row gets its first failing reason, or none.

One statement over the batch of text records (``__batch``, the extract's files of a run) builds
the temp table ``__judged``: each row's file (``__fileno``), physical line and as-at date, each
contract column normalised (``v_<column>``: trimmed, empty as NULL, upper-cased where the contract
says) and, for dates, timestamps and numbers, typed (``t_<column>``), its age band when the
extract has a date of birth, and the first of the contract's rules it breaks, in the contract's
precedence, with its message. A row breaking no rule whose key repeats an earlier valid row's of
the same file is DUPLICATE_KEY. The rules are ``contract.rules_for``, the same the GX suites are
built from (``expectations.batch_sql`` names the columns alike in both).
"""

from __future__ import annotations

import duckdb

from orchestration.ingestion import contract as c
from orchestration.ingestion.expectations import batch_sql

#: The kinds whose typed value differs from the text: only these get a ``t_<column>`` in
#: ``__judged`` (a code's or a CRN's typed value is its normalised text, ``v_<column>``).
TYPED_KINDS = frozenset({"date", "timestamp", "integer"})


def typed_column(col: c.Column) -> str:
    """The column of ``__judged`` holding the column's typed value."""
    return f"t_{col.name}" if col.kind in TYPED_KINDS else f"v_{col.name}"


def ordinal_sql(first_rowid_known: bool) -> str:
    """A record's ordinal in its file (the header is 0), over ``__batch b join __files f``.

    DuckDB reads each file's records in order into consecutive rowids, so the ordinal is the
    record's rowid less its header's; when that did not hold (``record_counts`` says), the
    records are numbered by rowid within the file instead.
    """
    if first_rowid_known:
        return "(b.rowid - f.first_rowid)"
    return "(row_number() over (partition by b.filename order by b.rowid) - 1)"


def judge(
    con: duckdb.DuckDBPyConnection,
    extract: c.Extract,
    headers: dict[int, list[str]],
    rules: list[c.Rule],
    first_rowid_known: bool,
    irregular: bool,
    wrong: bool,
) -> None:
    """Give every parsed row of the batch's loading files its first failing reason.

    ``headers`` is each file's header (trimmed, lower-cased) by file number: most runs have one
    layout, and a column is then read from one position; ``irregular`` says some files have
    their line numbers in ``__lines``, ``wrong`` that ``__wrong`` lists records to leave out.
    The result is the temp table ``__judged``.
    """
    layouts: dict[tuple[str, ...], list[int]] = {}
    for fileno, names in headers.items():
        layouts.setdefault(tuple(names), []).append(fileno)
    norm = []
    for col in extract.columns:
        if len(layouts) == 1:
            ref = f"b.__c{next(iter(layouts)).index(col.name)}"
        else:
            whens = " ".join(
                f"when f.fileno in ({', '.join(map(str, numbers))}) "
                f"then b.__c{names.index(col.name)}"
                for names, numbers in layouts.items()
            )
            ref = f"case {whens} end"
        ref = f"nullif(trim({ref}), '')"
        norm.append(f"{'upper(' + ref + ')' if col.upper_cased else ref} as v_{col.name}")
    # text kinds are their own typed value: only dates, timestamps and numbers get a t_ column
    typed_columns = [col for col in extract.columns if col.kind in TYPED_KINDS]
    typed = [f"{c.typed_sql(col, 'v_' + col.name)} as t_{col.name}" for col in typed_columns]
    text = [f"v_{col.name} as t_{col.name}" for col in extract.columns
            if col.kind not in TYPED_KINDS]
    reason = " ".join(f"when {batch_sql(r.fault_sql)} then '{r.reason_code}'" for r in rules)
    message = " ".join(
        f"when {batch_sql(r.fault_sql)} then '{r.message.replace(chr(39), chr(39) * 2)}'"
        for r in rules
    )
    key = ", ".join(f"v_{k}" for k in extract.key)
    age_band = "null"
    if extract.dob_column:
        age_band = c.age_band_sql(f"t_{extract.dob_column}", "t_snapshot_date")
    line = "f.header_line + r.__ordinal"
    lines_join = ""
    if irregular:
        line = f"coalesce(m.line, {line})"
        lines_join = "left join __lines m on m.fileno = r.__fileno and m.ordinal = r.__ordinal"
    wrong_join = (
        "anti join __wrong w on w.fileno = r.__fileno and w.ordinal = r.__ordinal" if wrong else ""
    )
    con.execute("drop table if exists __judged")
    con.execute(
        f"""
        create temp table __judged as
        with records as (
            select f.fileno as __fileno, {ordinal_sql(first_rowid_known)} as __ordinal,
                {', '.join(norm)}
            from __batch b
            join __files f on f.path = b.filename
        ),
        v as (
            select r.__fileno, {line} as __line, f.as_at as __as_at, r.* exclude (__fileno)
            from records r
            join __files f on f.fileno = r.__fileno
            {lines_join}
            {wrong_join}
            where r.__ordinal > 0
        ),
        t as (
            select *, {', '.join(typed + text)}
            from v
        ),
        judged as (
            select
                __fileno,
                __line,
                __as_at,
                case {reason} end as first_reason,
                case {message} end as first_message,
                {', '.join(f'v_{col.name}' for col in extract.columns)},
                {', '.join(f't_{col.name}' for col in typed_columns)},
                {age_band} as __age_band
            from t
        )
        select
            * exclude (first_reason, first_message),
            case
                when first_reason is not null then first_reason
                when row_number() over (
                    partition by __fileno, {key}, first_reason is null
                    order by __line
                ) > 1 then '{c.DUPLICATE_KEY}'
            end as reason_code,
            case
                when first_reason is not null then first_message
                when row_number() over (
                    partition by __fileno, {key}, first_reason is null
                    order by __line
                ) > 1 then 'key ({", ".join(extract.key)}) repeated within the file; '
                    || 'its first valid row loaded'
            end as message
        from judged
        """
    )
