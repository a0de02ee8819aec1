"""One file's rows in DuckDB: read as text, kept or set aside, pseudonymised and inserted.

DuckDB's CSV reader reads every record of the file as text into the temp table ``__batch``; the
header and the records with a wrong number of fields (the line scan's to say) are taken out, and
once the rows are judged (``judging``) the valid ones go to raw.<extract> and the others to
audit.quarantined_rows, the wrong-width lines without values. CRNs become keyed pseudonyms on the
way in (``Pseudonyms``), so no CRN is stored. Everything here runs inside the loader's transaction
for the file, on its connection.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from orchestration.core.warehouse import raw_columns
from orchestration.ingestion import contract as c
from orchestration.ingestion.files import FileRejected, LandedFile
from orchestration.ingestion.pseudonymise import person_ids
from orchestration.ingestion.scan import RecordScan


def read_records(
    con: duckdb.DuckDBPyConnection, landed: LandedFile, scan: RecordScan, width: int
) -> int:
    """Read every record of the file as text into temp table __batch, in file order.

    The header is read as the first record (DuckDB's ``skip`` miscounts blank lines that mix
    LF and CRLF before it; its own skipping of blank lines does not). One row per record,
    whatever its number of fields: ``width`` columns wide (the widest
    record's), short records padded with NULL. Which records have the header's number of
    fields is the line scan's to say, so DuckDB's rejects are not needed. Not strict mode:
    it refuses a file that mixes LF and CRLF line endings, which the contract allows, and
    what else it refuses (text after a closing quote, a lone carriage return) the line scan
    has already rejected, naming the line. A quote inside an unquoted value is a literal
    character here as in the scan. DuckDB cannot pad records in parallel when a quoted value
    holds a line break, nor split a file where a literal quote stands before one.
    """
    # DuckDB reads .gz itself (the gzip trailer was checked when the file was decoded), so
    # no decompressed copy of personal data is ever written outside the delivery folders.
    columns = {f"__c{i}": "VARCHAR" for i in range(width)}
    con.execute("drop table if exists __batch")
    try:
        con.execute(
            """
            create temp table __batch as
            select * from read_csv(
                $path, header = false, auto_detect = false,
                columns = $columns, delim = ',', quote = '"', escape = '"',
                all_varchar = true, strict_mode = false, null_padding = true,
                parallel = $parallel, encoding = 'utf-8', max_line_size = 10000000
            )
            """,
            {"path": str(landed.path), "columns": columns,
             "parallel": not (scan.quoted_line_breaks or scan.literal_quotes)},
        )
    except duckdb.InvalidInputException as exc:  # the scan found no fault; never a crash
        first = str(exc).splitlines()[0].split("Error: ", 1)[-1]
        raise FileRejected(f"not readable as CSV (DuckDB's reader: {first})") from exc
    return con.execute("select count(*) from __batch").fetchone()[0]


def drop_header_and_wrong_records(con: duckdb.DuckDBPyConnection, good: np.ndarray) -> None:
    """Take the header and the records with a wrong number of fields (not ``good``) out.

    Those records are quarantined without values; rowids are not 0, 1, ... inside a
    transaction, so records are matched by their order.
    """
    con.execute("delete from __batch where rowid = (select min(rowid) from __batch)")
    if not good.all():
        wrong = np.flatnonzero(~good).astype(np.int64)
        con.register("__wrong_ordinals", pd.DataFrame({"ordinal": wrong}))
        con.execute(
            """
            delete from __batch where rowid in (
                select rowid from (
                    select rowid, row_number() over (order by rowid) - 1 as ordinal
                    from __batch
                ) semi join __wrong_ordinals using (ordinal)
            )
            """
        )
        con.unregister("__wrong_ordinals")


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
        con.register("__pseudonym_frame", frame)
        con.execute("drop table if exists __pseudonyms")
        con.execute("create temp table __pseudonyms as select * from __pseudonym_frame")
        con.unregister("__pseudonym_frame")


def insert_valid_rows(
    con: duckdb.DuckDBPyConnection, landed: LandedFile, extract: c.Extract, load_id: int
) -> None:
    """Insert the rows with no reason into raw.<extract> (a caseload replaces its snapshot)."""
    as_at = landed.as_at.isoformat()
    if extract.name == "caseload":
        con.execute("delete from raw.caseload where snapshot_date = ?", [landed.as_at])
    target_cols = [name for name, _ in raw_columns(extract)]
    select = [str(load_id), "$file_name", f"date '{as_at}'", "j.__line"]
    for col in extract.columns:
        if col.name == extract.crn_column:
            select.append("p.person_id")
        elif col.name == extract.dob_column:
            select.append("j.__age_band")
        else:
            select.append(f"j.t_{col.name}")
    con.execute(
        f"""
        insert into raw.{extract.name} ({', '.join(target_cols)})
        select {', '.join(select)}
        from __judged j left join __pseudonyms p on p.crn = j.v_{extract.crn_column}
        where j.reason_code is null
        order by j.__line
        """,
        {"file_name": landed.name},
    )


def insert_quarantined_rows(
    con: duckdb.DuckDBPyConnection,
    landed: LandedFile,
    extract: c.Extract,
    load_id: int,
    scan: RecordScan,
    good: np.ndarray,
) -> None:
    """Insert the judged rows with a reason, then the wrong-width lines, into the quarantine."""
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
    con.execute(
        f"""
        insert into audit.quarantined_rows
        select {load_id}, $file_name, '{extract.name}', j.__line, j.reason_code, j.message,
            {', '.join(values)}
        from __judged j left join __pseudonyms p on p.crn = j.v_{extract.crn_column}
        where j.reason_code is not null
        order by j.__line
        """,
        {"file_name": landed.name},
    )
    wrong_lines = scan.line_numbers[~good]
    if wrong_lines.size:
        con.register("__wrong", pd.DataFrame({"line": wrong_lines,
                                              "fields": scan.field_counts[~good]}))
        con.execute(
            f"""
            insert into audit.quarantined_rows (load_id, file_name, extract, line_number,
                reason_code, message)
            select {load_id}, $file_name, '{extract.name}', line, '{c.WRONG_FIELD_COUNT}',
                'wrong number of fields: ' || fields || ' where the header has {len(scan.header)}'
            from __wrong
            """,
            {"file_name": landed.name},
        )
        con.unregister("__wrong")


def reason_counts(con: duckdb.DuckDBPyConnection, wrong_records: int) -> dict[str, int]:
    """Rows quarantined per reason code, the wrong-width records included."""
    reasons = dict(
        con.execute(
            "select reason_code, count(*) from __judged where reason_code is not null "
            "group by all"
        ).fetchall()
    )
    if wrong_records:
        reasons[c.WRONG_FIELD_COUNT] = int(wrong_records)
    return reasons


def drop_batch_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the file's temp tables, so no row of it outlives its load."""
    con.execute("drop table if exists __judged")
    con.execute("drop table if exists __batch")
    con.execute("drop table if exists __pseudonyms")
