"""The warehouse's own tables: raw extracts and the audit trail, created from the contract."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.core.settings import Settings
from orchestration.ingestion.contract import EXTRACTS, QUARANTINE_VALUE_COLUMNS, Extract

#: DuckDB settings for every connection ICW opens. Extensions cannot be downloaded here, so a
#: stray use fails at once instead of hanging; files stay readable by Evidence's DuckDB 1.4.
CONNECT_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}


def connect_config(limit: str | None = None) -> dict[str, object]:
    """DuckDB settings for every ICW connection, with Settings' memory limit by default."""
    limit = limit or Settings.from_env().duckdb_memory_limit
    try:  # DuckDB's own parser; its message alone would not say where the value came from
        duckdb.connect(":memory:", config={"memory_limit": limit}).close()
    except duckdb.Error as error:
        raise ValueError(
            f"ICW_DUCKDB_MEMORY_LIMIT={limit!r} is not a size DuckDB accepts, such as 1GB or "
            f"512MB ({str(error).splitlines()[0]})"
        ) from None
    return {**CONNECT_CONFIG, "memory_limit": limit}


LINEAGE_COLUMNS = (
    ("load_id", "bigint not null"),
    ("file_name", "varchar not null"),
    ("as_at_date", "date not null"),
    ("line_number", "integer not null"),
)


def raw_columns(extract: Extract) -> list[tuple[str, str]]:
    """The loaded columns of an extract: CRN as person_id, date of birth as age band."""
    cols: list[tuple[str, str]] = list(LINEAGE_COLUMNS)
    for c in extract.columns:
        if c.name == extract.crn_column:
            cols.append(("person_id", "varchar"))
        elif c.name == extract.dob_column:
            cols.append(("age_band", "varchar"))
        else:
            cols.append((c.name, c.sql_type))
    return cols


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with ICW's settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only, config=connect_config())


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and audit tables if they are not there (idempotent)."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists audit")
    for extract in EXTRACTS.values():
        cols = ",\n    ".join(f"{n} {t}" for n, t in raw_columns(extract))
        con.execute(f"create table if not exists raw.{extract.name} (\n    {cols}\n)")
    con.execute(
        """
        create table if not exists audit.loads (
            load_id bigint primary key,
            file_name varchar not null,
            extract varchar,
            as_at_date date,
            sha256 varchar not null,
            status varchar not null,
            rows_read bigint,
            rows_loaded bigint,
            rows_quarantined bigint,
            message varchar,
            loaded_at timestamp not null,
            stored_as varchar,
            bytes bigint,
            extra_columns varchar[],
            seconds double
        )
        """
    )
    values = ",\n            ".join(f"{c} varchar" for c in QUARANTINE_VALUE_COLUMNS)
    con.execute(
        f"""
        create table if not exists audit.quarantined_rows (
            load_id bigint not null,
            file_name varchar not null,
            extract varchar not null,
            line_number integer not null,
            reason_code varchar not null,
            message varchar not null,
            {values}
        )
        """
    )
    ensure_key_table(con)
    # One row per expectation per loaded file: the suite's count of rows breaking each rule of the
    # contract in the file's raw batch (before quarantine). Counts only, never a value.
    con.execute(
        """
        create table if not exists audit.expectation_results (
            load_id bigint not null,
            file_name varchar not null,
            extract varchar not null,
            expectation varchar not null,
            reason_code varchar not null,
            column_name varchar,
            unexpected_count bigint not null,
            success boolean not null
        )
        """
    )


def ensure_key_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create audit.pseudonymisation_key: which key built the warehouse, as fingerprints.

    One row per event (first load, a pre-fingerprint warehouse verified, a rotation); the
    newest row is the key every run must use. A fingerprint cannot be turned back into its
    key (orchestration/ingestion/key_fingerprint.py).
    """
    con.execute("create schema if not exists audit")
    con.execute(
        """
        create table if not exists audit.pseudonymisation_key (
            entry_id integer primary key,
            fingerprint varchar not null,
            event varchar not null,
            recorded_at timestamp not null,
            note varchar
        )
        """
    )
