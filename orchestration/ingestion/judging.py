"""Judging one file's rows in SQL: each parsed row gets its first failing reason, or none.

One statement over the batch of text records (``__batch``) builds the temp table ``__judged``:
each contract column normalised (``v_<column>``: trimmed, empty as NULL, upper-cased where the
contract says) and typed (``t_<column>``), the row's line number, its age band when the extract
has a date of birth, and the first of the contract's rules it breaks, in the contract's
precedence, with its message. A row breaking no rule whose key repeats an earlier valid row's is
DUPLICATE_KEY. The rules are ``contract.rules_for``, the same the GX suites are built from.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from orchestration.ingestion import contract as c


def judge(
    con: duckdb.DuckDBPyConnection,
    as_at: dt.date,
    extract: c.Extract,
    names: list[str],
    rules: list[c.Rule],
    lines: np.ndarray,
) -> None:
    """Give every parsed row its first failing reason, in the contract's precedence.

    ``names`` is the header (trimmed, lower-cased), ``lines`` the line number of each row of
    ``__batch`` in order; the result is the temp table ``__judged``.
    """
    con.register(
        "__lines", pd.DataFrame({"__ordinal": np.arange(len(lines), dtype=np.int64),
                                 "__line": lines})
    )
    position = {n: i for i, n in enumerate(names)}
    norm = []
    for col in extract.columns:
        ref = f"nullif(trim(b.__c{position[col.name]}), '')"
        norm.append(f"{'upper(' + ref + ')' if col.upper_cased else ref} as {col.name}")
    typed = [f"{c.typed_sql(col, 'v.' + col.name)} as {col.name}" for col in extract.columns]
    reason = " ".join(f"when {r.fault_sql} then '{r.reason_code}'" for r in rules)
    message = " ".join(
        f"when {r.fault_sql} then '{r.message.replace(chr(39), chr(39) * 2)}'" for r in rules
    )
    key = ", ".join(f"v.{k}" for k in extract.key)
    age_band = "null"
    if extract.dob_column:
        age_band = c.age_band_sql(f"t.{extract.dob_column}", "t.snapshot_date")
    con.execute("drop table if exists __judged")
    con.execute(
        f"""
        create temp table __judged as
        with v as (
            select
                row_number() over (order by b.rowid) - 1 as __ordinal,
                {', '.join(norm)}
            from __batch b
        ),
        t as (
            select v.__ordinal, date '{as_at.isoformat()}' as __as_at,
                {', '.join(typed)}
            from v
        ),
        judged as (
            select
                l.__line,
                v.__ordinal,
                case {reason} end as first_reason,
                case {message} end as first_message,
                {', '.join(f'v.{col.name} as v_{col.name}' for col in extract.columns)},
                {', '.join(f't.{col.name} as t_{col.name}' for col in extract.columns)},
                {age_band} as __age_band
            from v
            join t using (__ordinal)
            join __lines l using (__ordinal)
        )
        select
            *,
            case
                when first_reason is not null then first_reason
                when row_number() over (
                    partition by {key.replace('v.', 'v_')}, first_reason is null
                    order by __line
                ) > 1 then '{c.DUPLICATE_KEY}'
            end as reason_code,
            case
                when first_reason is not null then first_message
                when row_number() over (
                    partition by {key.replace('v.', 'v_')}, first_reason is null
                    order by __line
                ) > 1 then 'key ({", ".join(extract.key)}) repeated within the file; '
                    || 'its first valid row loaded'
            end as message
        from judged
        """
    )
    con.unregister("__lines")
