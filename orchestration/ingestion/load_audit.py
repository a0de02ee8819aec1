"""The loader's bookkeeping in audit.loads: one row per file, read back to stay idempotent.

audit.loads is what makes a pass safe to repeat: a file whose bytes were LOADED before is a
DUPLICATE, a file whose row committed but whose move did not happen (a run killed in between) only
has its move finished, and an unrecognised name is recorded once however many passes see it.
Load ids are max + 1 read inside the file's transaction (see ``next_load_id``). The caller owns
the transaction, except for ``record_unrecognised``, whose row is a transaction of its own.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from orchestration.ingestion.files import LandedFile
from orchestration.ingestion.outcomes import LOADED, UNRECOGNISED, FileOutcome


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    """The next load id, read inside the file's transaction.

    Not a sequence: after a crash DuckDB's WAL replay restores committed rows but may not
    restore a sequence's position, which would reuse an id. One writer at a time makes
    max + 1 safe, and it always agrees with what has been committed.
    """
    return int(con.execute(
        "select coalesce(max(load_id), 0) + 1 from audit.loads").fetchone()[0])


def already_loaded(con: duckdb.DuckDBPyConnection, sha: str) -> bool:
    """True when the same bytes were LOADED before."""
    return bool(
        con.execute(
            "select count(*) from audit.loads where sha256 = ? and status = ?", [sha, LOADED]
        ).fetchone()[0]
    )


def loaded_shas(con: duckdb.DuckDBPyConnection, shas: list[str]) -> set[str]:
    """Which of the digests were LOADED before (``already_loaded`` for a run's files at once)."""
    return {
        row[0] for row in con.execute(
            "select distinct sha256 from audit.loads where status = ? "
            "and list_contains(?, sha256)", [LOADED, shas]
        ).fetchall()
    }


def committed_not_moved(
    con: duckdb.DuckDBPyConnection, landed: LandedFile, sha: str
) -> FileOutcome | None:
    """The committed outcome of a file an interrupted run did not move, or None.

    None when the file's arrival was never committed, or its recorded destination exists.
    """
    row = con.execute(
        """
        select status, stored_as, rows_read, rows_loaded, rows_quarantined, message
        from audit.loads
        where file_name = ? and sha256 = ? and status <> ? and stored_as is not null
        order by load_id desc limit 1
        """,
        [landed.name, sha, UNRECOGNISED],
    ).fetchone()
    if row is None or Path(row[1]).exists():
        return None
    return FileOutcome(
        landed.name, landed.extract, row[0], row[5] or "", row[2], row[3], row[4],
        stored_as=Path(row[1]), recovered=True,
    )


def record_unrecognised(con: duckdb.DuckDBPyConnection, landed: LandedFile) -> None:
    """Record a file whose name is not an extract's, once for the same name and bytes."""
    sha = hashlib.sha256(landed.path.read_bytes()).hexdigest()
    known = con.execute(
        "select count(*) from audit.loads where file_name = ? and sha256 = ? and status = ?",
        [landed.name, sha, UNRECOGNISED],
    ).fetchone()[0]
    if not known:
        outcome = FileOutcome(
            landed.name, None, UNRECOGNISED,
            "not an extract name (<extract>_<YYYY-MM-DD>.csv[.gz]); left in the landing folder",
            bytes=landed.path.stat().st_size,
        )
        con.begin()
        write_load(con, landed, sha, outcome, next_load_id(con))
        con.commit()


def write_load(
    con: duckdb.DuckDBPyConnection, landed: LandedFile, sha: str, o: FileOutcome, load_id: int
) -> None:
    """Insert the file's row of audit.loads (in the caller's transaction)."""
    con.execute(
        """
        insert into audit.loads (load_id, file_name, extract, as_at_date, sha256, status,
            rows_read, rows_loaded, rows_quarantined, message, loaded_at, stored_as, bytes,
            extra_columns, seconds)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now() at time zone 'UTC', ?, ?, ?, ?)
        """,
        [
            load_id, o.file_name, landed.extract, landed.as_at, sha, o.status,
            o.rows_read, o.rows_loaded, o.rows_quarantined, o.message,
            str(o.stored_as) if o.stored_as else None, o.bytes,
            getattr(o, "extra_columns", None), round(o.seconds, 3),
        ],
    )
