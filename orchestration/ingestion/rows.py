"""An extract's files of a run in DuckDB: read as text, kept or set aside, pseudonymised, inserted.

Set-based: the accepted files of one extract are read by one ``read_csv`` (``filename = true``;
a second call for the files DuckDB must read serially) into the temp table ``__batch``, every
record as text. Each file keeps its own identity throughout: ``__files`` gives it a number, its
load id, as-at date and how its records map to physical lines. A record's ordinal in its file
comes from the order DuckDB read it (checked, see ``number_records``); a file whose records are
regular (no blank line, no quoted line break) gets its line numbers in SQL (header line +
ordinal), and only the other files ship their line numbers (``__lines``). The records with a
wrong number of fields (the line scan's to say) ship as ``__wrong`` and are quarantined without
values. Once the rows are judged (``judging``) one insert puts the valid ones into
raw.<extract> and one puts the others into audit.quarantined_rows. CRNs become keyed pseudonyms
on the way in (``Pseudonyms``), so no CRN is stored. Everything here runs inside the loader's
transaction for the batch, on its connection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from orchestration.core.warehouse import raw_columns
from orchestration.ingestion import contract as c
from orchestration.ingestion.files import CheckedFile, LandedFile
from orchestration.ingestion.judging import typed_column
from orchestration.ingestion.pseudonymise import person_ids


@dataclass
class FileRecords:
    """One accepted file of the batch: what the line scan found, kept small.

    ``lines`` is kept only when a record's line is not the header's line + its ordinal (blank
    lines or quoted line breaks); ``wrong`` holds the data records (0-based) whose number of
    fields is not the header's.
    """

    fileno: int
    landed: LandedFile
    load_id: int
    names: list[str]  # the header, trimmed and lower-cased
    extra: list[str]
    rows_read: int
    header_line: int
    widest: int  # the most fields of any record, the header's included
    serial: bool  # DuckDB must read it with parallel = false
    lines: np.ndarray | None
    wrong: np.ndarray
    wrong_lines: np.ndarray
    wrong_fields: np.ndarray

    @classmethod
    def of(cls, fileno: int, landed: LandedFile, load_id: int, checked: CheckedFile
           ) -> FileRecords:
        """Keep of the scan only what the batch needs."""
        scan = checked.scan
        width = len(checked.names)
        lines = scan.line_numbers
        regular = lines.size == 0 or (
            int(lines[0]) == scan.header_line + 1
            and int(lines[-1]) == scan.header_line + lines.size
        )  # strictly increasing, so first and last settle it
        wrong = np.flatnonzero(scan.field_counts != width).astype(np.int64)
        return cls(
            fileno=fileno, landed=landed, load_id=load_id, names=checked.names,
            extra=checked.extra, rows_read=scan.rows_read, header_line=scan.header_line,
            widest=max(width, int(scan.field_counts.max(initial=0))),
            serial=scan.quoted_line_breaks or scan.literal_quotes,
            lines=None if regular else lines.astype(np.int64),
            wrong=wrong, wrong_lines=lines[wrong].astype(np.int64),
            wrong_fields=scan.field_counts[wrong].astype(np.int64),
        )

    @property
    def path(self) -> str:
        """The path DuckDB's reader is given, and names in ``filename``."""
        return str(self.landed.path)

    @property
    def as_at(self) -> dt.date:
        """The as-at date in the file's name."""
        assert self.landed.as_at is not None
        return self.landed.as_at


def _read_sql(target: str) -> str:
    close = ")" if target.endswith("(") else ""
    return f"""
        {target}
        select * from read_csv(
            $paths, header = false, auto_detect = false,
            columns = $columns, delim = ',', quote = '"', escape = '"',
            all_varchar = true, strict_mode = false, null_padding = true,
            parallel = $parallel, encoding = 'utf-8', max_line_size = 10000000,
            filename = true
        ){close}
        """


class ReaderRefused(Exception):
    """DuckDB's reader refused a file of the batch; the transaction is aborted (roll back)."""


def read_records(con: duckdb.DuckDBPyConnection, files: list[FileRecords]) -> None:
    """Read every record of the files as text into temp table __batch, each file in its order.

    The header is read as the first record (DuckDB's ``skip`` miscounts blank lines that mix
    LF and CRLF before it; its own skipping of blank lines does not). One row per record,
    whatever its number of fields: as wide as the widest record of any file, short records
    padded with NULL, and ``filename`` saying whose it is. Which records have the header's
    number of fields is the line scan's to say, so DuckDB's rejects are not needed. Not strict
    mode: it refuses a file that mixes LF and CRLF line endings, which the contract allows, and
    what else it refuses (text after a closing quote, a lone carriage return) the line scan
    has already rejected, naming the line. A quote inside an unquoted value is a literal
    character here as in the scan. DuckDB cannot pad records in parallel when a quoted value
    holds a line break, nor split a file where a literal quote stands before one: those files
    are read in a second call, serially. Should the reader refuse a file all the same, it
    raises ``ReaderRefused`` (DuckDB has aborted the transaction): the loader rolls back, finds
    the file with ``refused_files`` and reads the others again without it.
    """
    # DuckDB reads .gz itself (the gzip trailer was checked when the file was decoded), so
    # no decompressed copy of personal data is ever written outside the delivery folders.
    columns = _columns(files)
    con.execute("drop table if exists __batch")
    con.execute(
        "create temp table __batch as select "
        + ", ".join(f"null::varchar as {name}" for name in columns)
        + ", null::varchar as filename limit 0"
    )
    for group, parallel in ((_parallel(files, True), True), (_parallel(files, False), False)):
        if group:
            try:
                con.execute(_read_sql("insert into __batch"),
                            {"paths": [f.path for f in group], "columns": columns,
                             "parallel": parallel})
            except duckdb.InvalidInputException as exc:
                raise ReaderRefused(str(exc), files) from exc


def _columns(files: list[FileRecords]) -> dict[str, str]:
    return {f"__c{i}": "VARCHAR" for i in range(max(f.widest for f in files))}


def _parallel(files: list[FileRecords], parallel: bool) -> list[FileRecords]:
    return [f for f in files if f.serial is not parallel]


def refused_files(con: duckdb.DuckDBPyConnection, files: list[FileRecords]) -> dict[int, str]:
    """The files DuckDB's reader refuses, each read alone outside any transaction: messages."""
    refused = {}
    for f in files:
        try:
            con.execute(_read_sql("select count(*) from ("),
                        {"paths": [f.path], "columns": _columns([f]),
                         "parallel": not f.serial}).fetchall()
        except duckdb.InvalidInputException as exc:  # the scan found no fault; never a crash
            first = str(exc).splitlines()[0].split("Error: ", 1)[-1]
            refused[f.fileno] = f"not readable as CSV (DuckDB's reader: {first})"
    return refused


def record_counts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int]]:
    """Records read per file path, header included: (count, first rowid, last rowid)."""
    return {
        path: (int(n), int(lo), int(hi))
        for path, n, lo, hi in con.execute(
            "select filename, count(*), min(rowid), max(rowid) from __batch group by filename"
        ).fetchall()
    }


def register_files(
    con: duckdb.DuckDBPyConnection,
    extract: c.Extract,
    files: list[FileRecords],
    first_rowid: dict[int, int] | None,
) -> None:
    """The temp tables describing the batch's files that load: __files, __lines, __wrong.

    ``first_rowid`` (file number -> the rowid of its header) when every file's records have
    consecutive rowids in read order; otherwise the ordinal is numbered in SQL (``ordinal_sql``).
    A caseload file inserts its rows only if no later file of the batch has its as-at date (the
    later one replaces the snapshot, as it would arriving alone).
    """
    last_of_date = {f.as_at: f.fileno for f in files}
    con.execute("drop table if exists __files")
    con.execute(
        "create temp table __files (fileno integer, path varchar, name varchar, "
        "load_id bigint, as_at date, header_line integer, header_width integer, "
        "first_rowid bigint, inserts boolean)"
    )
    con.executemany(
        "insert into __files values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [f.fileno, f.path, f.landed.name, f.load_id, f.as_at, f.header_line, len(f.names),
             first_rowid.get(f.fileno) if first_rowid else None,
             extract.name != "caseload" or last_of_date[f.as_at] == f.fileno]
            for f in files
        ],
    )
    irregular = [f for f in files if f.lines is not None]
    _register_table(con, "__lines", pd.DataFrame({
        "fileno": np.concatenate([np.full(f.rows_read, f.fileno, np.int32) for f in irregular]
                                 or [np.empty(0, np.int32)]),
        "ordinal": np.concatenate([np.arange(1, f.rows_read + 1, dtype=np.int64)
                                   for f in irregular] or [np.empty(0, np.int64)]),
        "line": np.concatenate([f.lines for f in irregular if f.lines is not None]
                               or [np.empty(0, np.int64)]),
    }))
    _register_table(con, "__wrong", pd.DataFrame({
        "fileno": np.concatenate([np.full(f.wrong.size, f.fileno, np.int32) for f in files]),
        "ordinal": np.concatenate([f.wrong + 1 for f in files]),
        "line": np.concatenate([f.wrong_lines for f in files]),
        "fields": np.concatenate([f.wrong_fields for f in files]),
    }))


def _register_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    con.register(f"{name}_frame", frame)
    con.execute(f"drop table if exists {name}")
    con.execute(f"create temp table {name} as select * from {name}_frame")
    con.unregister(f"{name}_frame")


class Pseudonyms:
    """Keyed pseudonyms of the CRNs judged so far: each distinct CRN is hashed once per run.

    Month after month the caseload is mostly the same people, so the run keeps the
    pseudonyms it has made (in memory only, never stored) and hashes only new CRNs.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self._known: dict[str, str] = {}

    def make_table(self, con: duckdb.DuckDBPyConnection) -> None:
        """The temp table __pseudonyms (crn, person_id) of every CRN in __judged."""
        crns = [r[0] for r in con.execute(
            "select distinct v_crn from __judged where v_crn is not null").fetchall()]
        new = [crn for crn in crns if crn not in self._known]
        self._known.update(person_ids(new, self.key))
        frame = pd.DataFrame({"crn": crns, "person_id": [self._known[crn] for crn in crns]},
                             dtype="object")
        _register_table(con, "__pseudonyms", frame)


def insert_valid_rows(con: duckdb.DuckDBPyConnection, extract: c.Extract) -> None:
    """Insert the rows with no reason into raw.<extract> (a caseload replaces its snapshot).

    One statement for every file of the batch; each row carries its own file's lineage.
    """
    if extract.name == "caseload":
        con.execute("delete from raw.caseload where snapshot_date in (select as_at from __files)")
    target_cols = [name for name, _ in raw_columns(extract)]
    select = ["f.load_id", "f.name", "f.as_at", "j.__line"]
    for col in extract.columns:
        if col.name == extract.crn_column:
            select.append("p.person_id")
        elif col.name == extract.dob_column:
            select.append("j.__age_band")
        else:
            select.append(f"j.{typed_column(col)}")
    con.execute(
        f"""
        insert into raw.{extract.name} ({', '.join(target_cols)})
        select {', '.join(select)}
        from __judged j
        join __files f on f.fileno = j.__fileno
        left join __pseudonyms p on p.crn = j.v_{extract.crn_column}
        where j.reason_code is null and f.inserts
        """
    )


def insert_quarantined_rows(con: duckdb.DuckDBPyConnection, extract: c.Extract) -> None:
    """Insert the judged rows with a reason, and the wrong-width lines, into the quarantine."""
    values = []
    for col in c.QUARANTINE_VALUE_COLUMNS:
        if col == "person_id":
            values.append("p.person_id")
        elif col == "age_band" and extract.dob_column:
            values.append("j.__age_band")
        elif col in extract.column_names:
            values.append(f"j.v_{col}")
        else:
            values.append("null")
    nulls = ", ".join("null" for _ in c.QUARANTINE_VALUE_COLUMNS)
    con.execute(
        f"""
        insert into audit.quarantined_rows
        select * from (
            select f.load_id, f.name, '{extract.name}', j.__line, j.reason_code, j.message,
                {', '.join(values)}
            from __judged j
            join __files f on f.fileno = j.__fileno
            left join __pseudonyms p on p.crn = j.v_{extract.crn_column}
            where j.reason_code is not null
            union all
            select f.load_id, f.name, '{extract.name}', w.line, '{c.WRONG_FIELD_COUNT}',
                'wrong number of fields: ' || w.fields || ' where the header has '
                    || f.header_width,
                {nulls}
            from __wrong w
            join __files f on f.fileno = w.fileno
        )
        order by 1, 4
        """
    )


def row_counts(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[int, dict[str, int]]]:
    """Per file number: rows judged valid, and rows quarantined per reason (wrong widths too)."""
    out: dict[int, tuple[int, dict[str, int]]] = {}
    valid = dict(con.execute(
        "select __fileno, count(*) from __judged where reason_code is null group by all"
    ).fetchall())
    for fileno, reason, n in con.execute(
        "select __fileno, reason_code, count(*) from __judged where reason_code is not null "
        "group by all union all "
        f"select fileno, '{c.WRONG_FIELD_COUNT}', count(*) from __wrong group by all"
    ).fetchall():
        out.setdefault(int(fileno), (0, {}))[1][reason] = int(n)
    fileno_all = set(valid) | set(out)
    return {
        int(f): (int(valid.get(f, 0)), out.get(int(f), (0, {}))[1]) for f in fileno_all
    }


def drop_batch_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the batch's temp tables, so no row of it outlives its load."""
    for table in ("__judged", "__batch", "__pseudonyms", "__files", "__lines", "__wrong"):
        con.execute(f"drop table if exists {table}")

