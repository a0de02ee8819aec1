"""Which pseudonymisation key built the warehouse, and refusing a run with another one.

person_id is HMAC-SHA256 of the CRN under ICW_PSEUDONYMISATION_KEY (docs/contract.md, Personal
data), so the warehouse links a person across files only while every run uses the same key: a run
with another key (a rotated secret, a typo, a job that lacks the variable and falls back to the demo
key) would make every person two. The warehouse therefore records a fingerprint of its key in
audit.pseudonymisation_key, and every run that loads files checks it before reading any.

The fingerprint is HMAC-SHA256 of a fixed label under the key: like a person_id it cannot be
turned back into the key, and it never equals a person_id because the label is not a CRN.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import hmac
import io
import itertools
from pathlib import Path

import duckdb

from orchestration.core.settings import DEMO_PSEUDONYMISATION_KEY, Settings
from orchestration.core.warehouse import ensure_key_table
from orchestration.ingestion.contract import EXTRACTS
from orchestration.ingestion.pseudonymise import person_ids

#: HMAC message of the fingerprint; lower case and spaces, so never a CRN (^[A-Z][0-9]{6}$).
FINGERPRINT_LABEL = "icw pseudonymisation key fingerprint v1"

#: audit.pseudonymisation_key.event values
FIRST_LOAD = "FIRST_LOAD"
VERIFIED_EXISTING = "VERIFIED_EXISTING"
RECORDED_BY_OPERATOR = "RECORDED_BY_OPERATOR"
ROTATED = "ROTATED"

#: CRNs read from an archived delivery to check a key against a pre-fingerprint warehouse
SAMPLE_CRNS = 200


class KeyMismatch(RuntimeError):
    """The key of this run is not the key that built the warehouse; nothing was read."""


def fingerprint(key: str) -> str:
    """HMAC-SHA256 of FINGERPRINT_LABEL under the key (UTF-8), as lower-case hex."""
    return hmac.new(
        key.encode("utf-8"), FINGERPRINT_LABEL.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def recorded_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint of the key that built the warehouse, or None if none is recorded."""
    present = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'audit' and table_name = 'pseudonymisation_key'"
    ).fetchone()[0]
    if not present:
        return None
    row = con.execute(
        "select fingerprint from audit.pseudonymisation_key order by entry_id desc limit 1"
    ).fetchone()
    return row[0] if row else None


def record_fingerprint(
    con: duckdb.DuckDBPyConnection, key: str, event: str, note: str | None = None
) -> None:
    """Append the key's fingerprint as the warehouse's key (commits unless in a transaction)."""
    ensure_key_table(con)
    con.execute(
        """
        insert into audit.pseudonymisation_key (entry_id, fingerprint, event, recorded_at, note)
        select coalesce(max(entry_id), 0) + 1, ?, ?, now() at time zone 'UTC', ?
        from audit.pseudonymisation_key
        """,
        [fingerprint(key), event, note],
    )


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'audit')"
        ).fetchall()
    }


def holds_person_ids(con: duckdb.DuckDBPyConnection) -> bool:
    """True when any raw or quarantined row carries a person_id (made under some key)."""
    tables = _tables(con)
    candidates = [f"raw.{name}" for name in EXTRACTS] + ["audit.quarantined_rows"]
    return any(
        con.execute(f"select exists (select 1 from {t} where person_id is not null)").fetchone()[0]
        for t in candidates
        if t in tables
    )


def archived_copy(settings: Settings, as_at: dt.date | None, stored_as: str | None) -> Path | None:
    """Where a loaded file's archived copy is now: under this ICW_HOME's archive, else stored_as.

    The archive is looked up by its as-at folder and stored name first, so an ICW_HOME that was
    moved still finds its deliveries.
    """
    if not stored_as:
        return None
    recorded = Path(stored_as)
    folder = as_at.isoformat() if as_at else "undated"
    for candidate in (settings.archive_dir / folder / recorded.name, recorded):
        if candidate.is_file():
            return candidate
    return None


def sample_crns(path: Path, crn_column: str, limit: int = SAMPLE_CRNS) -> list[str]:
    """Up to `limit` CRNs from a delivered file, trimmed, as the loader reads them."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    if crn_column not in header:
        return []
    i = header.index(crn_column)
    crns = (row[i].strip() for row in reader if len(row) == len(header) and row[i].strip())
    return list(itertools.islice(crns, limit))


def verify_against_archive(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool | None:
    """Does the key reproduce the person_ids of an archived delivery still in the warehouse?

    For a warehouse built before fingerprints were recorded. Returns True (it does), False (an
    archived file with the recorded bytes gives none of its rows' person_ids) or None (no
    archived file is left to check against). Reads only the archive, never the landing folder.
    """
    tables = _tables(con)
    candidates = con.execute(
        """
        select load_id, extract, as_at_date, stored_as, sha256 from audit.loads
        where status = 'LOADED' and coalesce(rows_loaded, 0) + coalesce(rows_quarantined, 0) > 0
        order by load_id desc
        """
    ).fetchall()
    for load_id, extract, as_at, stored_as, sha in candidates:
        spec = EXTRACTS.get(extract)
        if spec is None or not spec.crn_column or f"raw.{extract}" not in tables:
            continue
        # a replaced caseload snapshot keeps none of its rows; its quarantined rows remain
        remaining = con.execute(
            f"""
            select (select count(*) from raw.{extract} where load_id = $id)
                + (select count(*) from audit.quarantined_rows where load_id = $id)
            """,
            {"id": load_id},
        ).fetchone()[0]
        path = archived_copy(settings, as_at, stored_as)
        if not remaining or path is None:
            continue
        crns = sample_crns(path, spec.crn_column)
        if not crns:
            continue
        ids = list(person_ids(crns, settings.pseudonymisation_key).values())
        found = con.execute(
            f"""
            select (select count(*) from raw.{extract}
                    where load_id = $id and list_contains($ids, person_id))
                + (select count(*) from audit.quarantined_rows
                    where load_id = $id and list_contains($ids, person_id))
            """,
            {"id": load_id, "ids": ids},
        ).fetchone()[0]
        if found:
            return True
        if hashlib.sha256(path.read_bytes()).hexdigest() == sha:
            return False
    return None


def mismatch_message(settings: Settings, recorded: str) -> str:
    """One line naming the problem and the way out, without any key."""
    nothing = "nothing was read or loaded"
    if settings.uses_demo_key:
        return (
            "ICW_PSEUDONYMISATION_KEY is not set, and this warehouse was built with another "
            f"key; {nothing}. Set ICW_PSEUDONYMISATION_KEY to the warehouse's key from your "
            "secret store and run again"
        )
    if recorded == fingerprint(DEMO_PSEUDONYMISATION_KEY):
        return (
            "this warehouse was built with the public demo key, not ICW_PSEUDONYMISATION_KEY; "
            f"{nothing}. Unset it to go on with the demo key, or move the warehouse to your "
            "key with `icw rotate-key`"
        )
    return (
        "ICW_PSEUDONYMISATION_KEY is not the key this warehouse was built with (their "
        f"fingerprints differ); {nothing}. Set the warehouse's key, or change keys with "
        "`icw rotate-key`"
    )


def check_key(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    record: bool = True,
    has_deliveries: bool = True,
) -> str | None:
    """Refuse (KeyMismatch) a key that did not build this warehouse; record it when first used.

    - A recorded fingerprint must equal the key's.
    - A warehouse without person_ids (new, or nothing loaded yet) takes the key of the first
      run that has extract files to load (has_deliveries), recorded before any is read.
    - A warehouse that holds person_ids but no fingerprint (built before fingerprints) is
      checked against an archived delivery: the key must reproduce its person_ids.

    With record false nothing is written (a read-only pre-check). Returns a line for the run
    log when a fingerprint was recorded, else None.
    """
    recorded = recorded_fingerprint(con)
    if recorded is not None:
        if recorded != fingerprint(settings.pseudonymisation_key):
            raise KeyMismatch(mismatch_message(settings, recorded))
        return None
    if not holds_person_ids(con):
        if record and has_deliveries:
            record_fingerprint(con, settings.pseudonymisation_key, FIRST_LOAD)
            return "Recorded the pseudonymisation key's fingerprint: every later run must use it."
        return None
    verified = verify_against_archive(con, settings)
    if verified is False:
        raise KeyMismatch(
            "ICW_PSEUDONYMISATION_KEY does not give the person_ids of the archived deliveries "
            "this warehouse was built from; nothing was read or loaded. Set the warehouse's key, "
            "or change keys with `icw rotate-key`"
        )
    if verified is None:
        raise KeyMismatch(
            "this warehouse was built before ICW recorded its key, and no archived delivery is "
            "left to check ICW_PSEUDONYMISATION_KEY against; nothing was read or loaded. If you "
            "are sure it is the warehouse's key, record it with `icw rotate-key --record-only`"
        )
    if record:
        record_fingerprint(
            con, settings.pseudonymisation_key, VERIFIED_EXISTING,
            "built before fingerprints; the key reproduced an archived delivery's person_ids",
        )
        return (
            "Recorded the pseudonymisation key's fingerprint for this warehouse, after checking "
            "it against an archived delivery: every later run must use it."
        )
    return None


def check_key_read_only(settings: Settings, has_deliveries: bool = True) -> None:
    """The same check without writing, for a command to refuse before it does any work.

    Skipped when the warehouse does not exist yet or a refresh holds it (the run then checks
    again under the writer's lock).
    """
    from orchestration.core.warehouse import connect

    if not settings.warehouse.is_file():
        return
    try:
        con = connect(settings.warehouse, read_only=True)
    except duckdb.IOException:
        return  # held by a writer: the run checks under the lock
    try:
        check_key(con, settings, record=False, has_deliveries=has_deliveries)
    finally:
        con.close()


def check_before_loading(con: duckdb.DuckDBPyConnection, settings: Settings) -> str | None:
    """check_key for a run about to load the landing folder (its first load records the key).

    Call it under the writer's lock, before anything reads the landing folder's files.
    """
    from orchestration.ingestion.files import landed_files

    has_deliveries = any(f.recognised for f in landed_files(settings.landing_dir))
    return check_key(con, settings, record=True, has_deliveries=has_deliveries)


def check_warehouse_key(settings: Settings) -> str | None:
    """check_before_loading on the warehouse file, in a connection of its own."""
    from orchestration.core.warehouse import connect

    con = connect(settings.warehouse)
    try:
        return check_before_loading(con, settings)
    finally:
        con.close()
