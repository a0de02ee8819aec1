"""Change the pseudonymisation key: rebuild the warehouse from the archived deliveries.

person_ids cannot be re-keyed (the warehouse keeps no CRN), so `icw rotate-key` loads every
archived file again, in its original order, with the new key into a new warehouse file beside
the old one, builds and publishes the marts there with the refresh job, checks that the rebuild
holds the same rows and figures, and only then swaps the files. The old file stays as a backup.

What the rebuilt warehouse holds (docs/operations.md, "Changing the key"):
- raw.*: the same rows, with the same load ids, person_ids under the new key;
- audit.loads: the old history verbatim (every arrival, rejected files and duplicates too);
- audit.quarantined_rows and audit.expectation_results: made again by the reload, with the
  original load ids (quarantined rows' person_ids under the new key);
- audit.pseudonymisation_key: the old entries and a ROTATED entry for the new key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.core.lock import warehouse_lock
from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect, ensure_key_table
from orchestration.ingestion.contract import EXTRACTS
from orchestration.ingestion.key_fingerprint import (
    RECORDED_BY_OPERATOR,
    ROTATED,
    archived_copy,
    fingerprint,
    holds_person_ids,
    record_fingerprint,
    recorded_fingerprint,
)
from orchestration.ingestion.loader import Loader
from orchestration.ingestion.outcomes import LOADED

#: audit tables the reload makes again; any other audit table without person_ids is copied
REBUILT_AUDIT = ("loads", "quarantined_rows", "expectation_results", "pseudonymisation_key")
#: schemas whose tables are compared, before and after: every published table
COMPARED_SCHEMAS = ("marts", "reporting")


class RotationRefused(RuntimeError):
    """The rotation cannot start (no key, nothing to rotate); nothing was changed."""


class RotationFailed(RuntimeError):
    """The rebuild failed or differs; the warehouse is unchanged."""


class AlreadyThisKey(RuntimeError):
    """The warehouse is already built with the key: nothing to do."""


@dataclass
class RotationSummary:
    """What a rotation did, for the end-of-run lines."""

    warehouse: Path
    backup: Path
    files: int = 0
    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    tables_compared: int = 0
    differing: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The summary a user reads at the end of a rotation."""
        rows = ", ".join(f"{name} {n:,}" for name, n in self.rows.items())
        same = (
            f"all {self.tables_compared} published tables are the same as before"
            if not self.differing
            else f"{len(self.differing)} of {self.tables_compared} published tables differ "
            f"from before: {', '.join(self.differing)}"
        )
        return [
            f"Key rotation complete in {self.seconds:.0f}s.",
            f"  Reloaded {self.files} archived files ({rows} rows) with the new key; {same}.",
            f"  Warehouse: {self.warehouse} (person_ids under the new key)",
            f"  Backup: {self.backup} (person_ids under the OLD key: protect it like the "
            "warehouse, delete it when you no longer need it)",
        ]


@dataclass(frozen=True)
class _Arrival:
    load_id: int
    file_name: str
    extract: str
    sha256: str
    counts: tuple[int | None, int | None, int | None]
    path: Path


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _plan(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[_Arrival]:
    """Every LOADED arrival in load order, with its archived copy (checked byte for byte)."""
    plan = []
    for load_id, name, extract, as_at, sha, stored_as, *counts in con.execute(
        """
        select load_id, file_name, extract, as_at_date, sha256, stored_as,
            rows_read, rows_loaded, rows_quarantined
        from audit.loads where status = ? order by load_id
        """,
        [LOADED],
    ).fetchall():
        path = archived_copy(settings, as_at, stored_as)
        if path is None:
            raise RotationFailed(
                f"the archived copy of {name} (load {load_id}) is missing from "
                f"{settings.archive_dir}; the warehouse cannot be rebuilt without it"
            )
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            raise RotationFailed(
                f"{path} is not the file loaded as {name} (load {load_id}): its bytes changed "
                "since; restore the delivery as it arrived"
            )
        plan.append(_Arrival(load_id, name, extract, sha, tuple(counts), path))
    return plan


def _place(source: Path, dest: Path) -> None:
    """Put an archived file in the rebuild's landing folder without touching the original."""
    try:
        os.link(source, dest)  # the loader moves the link away; the archived file stays
    except OSError:
        shutil.copy2(source, dest)


def _reload(
    temp: Settings, plan: list[_Arrival], log: Callable[[str], None]
) -> dict[int, int]:
    """Load every arrival into the new warehouse in its original order; new id -> old id."""
    con = connect(temp.warehouse)
    try:
        loader = Loader(con, temp, log=lambda _: None)
        mapping: dict[int, int] = {}
        for i, arrival in enumerate(plan, 1):
            _place(arrival.path, temp.landing_dir / arrival.file_name)
            summary = loader.ingest_landing()
            outcome = summary.outcomes[0] if len(summary.outcomes) == 1 else None
            counts = (
                (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined)
                if outcome else None
            )
            if outcome is None or outcome.status != LOADED or counts != arrival.counts:
                got = (f"{outcome.status} {counts}" + (f": {outcome.message}" if outcome.message
                                                        else "")) if outcome else "no outcome"
                raise RotationFailed(
                    f"{arrival.file_name} (load {arrival.load_id}) loads differently today "
                    f"({got}, was LOADED {arrival.counts}): the contract or reference data "
                    "changed since it arrived"
                )
            new_id = con.execute("select max(load_id) from audit.loads").fetchone()[0]
            mapping[new_id] = arrival.load_id
            if i % 25 == 0 or i == len(plan):
                log(f"  reloaded {i}/{len(plan)} archived files")
        return mapping
    finally:
        con.close()


def _adopt_history(
    new: duckdb.DuckDBPyConnection, old_path: Path, mapping: dict[int, int], key: str
) -> None:
    """Give the reload the old load ids and the old audit history, in one transaction."""
    new.execute(f"attach {_quote(old_path)} as before (read_only)")
    try:
        new.begin()
        new.register("__ids", _mapping_frame(mapping))
        new.execute("create temp table __load_ids as select * from __ids")
        new.unregister("__ids")
        targets = [f"raw.{name}" for name in EXTRACTS]
        targets += ["audit.quarantined_rows", "audit.expectation_results"]
        for table in targets:
            new.execute(
                f"update {table} set load_id = m.old_id from __load_ids m "
                f"where {table}.load_id = m.new_id"
            )
        new.execute("delete from audit.loads")
        new.execute("insert into audit.loads by name select * from before.audit.loads")
        before_tables = {
            name for (name,) in new.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'before' and table_schema = 'audit'"
            ).fetchall()
        }
        ensure_key_table(new)
        if "pseudonymisation_key" in before_tables:
            new.execute(
                "insert into audit.pseudonymisation_key by name "
                "select * from before.audit.pseudonymisation_key"
            )
        for name in sorted(before_tables - set(REBUILT_AUDIT)):
            columns = {c for (c,) in new.execute(
                "select column_name from information_schema.columns where table_catalog = "
                "'before' and table_schema = 'audit' and table_name = ?", [name]).fetchall()}
            if "person_id" in columns:
                raise RotationFailed(
                    f"audit.{name} holds person_ids that a reload does not make again")
            new.execute(f'create table audit."{name}" as select * from before.audit."{name}"')
        record_fingerprint(new, key, ROTATED, "rebuilt from the archived deliveries")
        new.commit()
    except BaseException:
        new.rollback()
        raise
    finally:
        new.execute("detach before")


def _mapping_frame(mapping: dict[int, int]):
    import pandas as pd

    return pd.DataFrame(
        {"new_id": list(mapping), "old_id": list(mapping.values())}, dtype="int64"
    )


def _counts(con: duckdb.DuckDBPyConnection, prefix: str = "") -> dict[str, int]:
    """Rows of the tables a reload makes again (prefix: an attached catalog and a dot)."""
    tables = [f"raw.{name}" for name in EXTRACTS]
    tables += ["audit.quarantined_rows", "audit.expectation_results"]
    return {t: con.execute(f"select count(*) from {prefix}{t}").fetchone()[0] for t in tables}


def compare_published(con: duckdb.DuckDBPyConnection, other: str) -> tuple[int, list[str]]:
    """Published tables that differ between this warehouse and the attached `other`.

    Compared both ways with EXCEPT ALL, so a row missing, added or repeated counts.
    """
    def tables(catalog: str) -> set[str]:
        return {
            f"{schema}.{name}" for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables "
                f"where table_catalog = ? and table_schema in {COMPARED_SCHEMAS}", [catalog]
            ).fetchall()
        }

    mine = tables(con.execute("select current_database()").fetchone()[0])
    theirs = tables(other)
    differing = sorted(mine ^ theirs)
    for table in sorted(mine & theirs):
        schema, name = table.split(".")
        ours, old = f'{schema}."{name}"', f'{other}.{schema}."{name}"'
        extra = con.execute(
            f"select count(*) from (select * from {ours} except all select * from {old})"
        ).fetchone()[0]
        missing = con.execute(
            f"select count(*) from (select * from {old} except all select * from {ours})"
        ).fetchone()[0]
        if extra or missing:
            differing.append(table)
    return len(mine | theirs), sorted(differing)


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}.wal")):
        p.unlink(missing_ok=True)


def _swap(current: Path, rebuilt: Path, backup: Path) -> None:
    """Keep the old file as backup and put the rebuilt one in its place atomically."""
    for path in (current, rebuilt):
        if Path(f"{path}.wal").exists():
            raise RotationFailed(f"{path} has an unwritten log ({path}.wal); try again")
    try:
        os.link(current, backup)
    except OSError:
        shutil.copy2(current, backup)
    os.replace(rebuilt, current)  # the warehouse path is always the old or the new file


def rotate_key(
    settings: Settings,
    wait: bool = False,
    allow_changed_figures: bool = False,
    log: Callable[[str], None] = print,
) -> RotationSummary:
    """Rebuild the warehouse with settings' key from the archived deliveries, then swap files.

    Holds the writer's lock throughout. Raises RotationRefused or AlreadyThisKey before doing
    anything, RotationFailed (the warehouse unchanged) when the rebuild fails or its published
    tables differ from the old ones (unless allow_changed_figures).
    """
    from orchestration.automation.refresh import RefreshFailed, prepare_dagster_home, run_refresh

    started = time.perf_counter()
    if settings.uses_demo_key:
        raise RotationRefused(
            "ICW_PSEUDONYMISATION_KEY is not set: rotate-key rebuilds the warehouse with the key "
            "in ICW_PSEUDONYMISATION_KEY (never the public demo key); set it to the new key"
        )
    warehouse = settings.warehouse
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    rebuilt = warehouse.with_name(f"{warehouse.stem}.rotating{warehouse.suffix}")
    backup = warehouse.with_name(f"{warehouse.stem}.before-rotation-{stamp}{warehouse.suffix}")
    work = settings.home / f"rotation-{stamp}"
    with warehouse_lock(settings.lock_file, wait=wait):
        if not warehouse.is_file():
            raise RotationRefused(f"there is no warehouse at {warehouse}: nothing to rotate")
        con = connect(warehouse)
        try:
            if recorded_fingerprint(con) == fingerprint(settings.pseudonymisation_key):
                raise AlreadyThisKey(
                    "the warehouse is already built with ICW_PSEUDONYMISATION_KEY; nothing to do")
            has_loads = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'audit' and table_name = 'loads'").fetchone()[0]
            if not has_loads:
                raise RotationRefused(f"{warehouse} has no audit.loads: nothing to rotate")
            plan = _plan(con, settings)
            con.execute("checkpoint")
        finally:
            con.close()
        log(f"Rebuilding {warehouse.name} with the new key from {len(plan)} archived files "
            f"into {rebuilt.name}")
        # What a rotation killed part-way left behind (we hold the lock, so it is not running)
        _remove(rebuilt)
        for stale in settings.home.glob("rotation-*"):
            shutil.rmtree(stale, ignore_errors=True)
        temp = dataclasses.replace(
            settings, home=work, landing_dir=work / "landing", warehouse=rebuilt,
            landing_is_default=True,
        )
        swapped = False
        try:
            prepare_dagster_home(settings)  # the rebuild's run is kept with the others
            temp.ensure_dirs()
            mapping = _reload(temp, plan, log)
            new = connect(rebuilt)
            try:
                _adopt_history(new, warehouse, mapping, settings.pseudonymisation_key)
            finally:
                new.close()
            log("Building and publishing the marts in the rebuilt warehouse")
            try:
                run_refresh(temp, with_report=False, log=log)
            except RefreshFailed as exc:
                raise RotationFailed(str(exc)) from None
            new = connect(rebuilt)
            try:
                new.execute(f"attach {_quote(warehouse)} as before (read_only)")
                if _counts(new) != _counts(new, "before."):
                    raise RotationFailed(
                        "the rebuilt warehouse does not hold the same rows as the old one")
                compared, differing = compare_published(new, "before")
                rows = {name: new.execute(f"select count(*) from raw.{name}").fetchone()[0]
                        for name in EXTRACTS}
                new.execute("detach before")
                new.execute("checkpoint")
            finally:
                new.close()
            if differing and not allow_changed_figures:
                raise RotationFailed(
                    f"the rebuilt marts differ from the published ones ({', '.join(differing)}): "
                    "the models or reference data changed since the last refresh. Refresh with "
                    "the old key first, or accept the new figures with --allow-changed-figures")
            _swap(warehouse, rebuilt, backup)
            swapped = True
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if not swapped:
                _remove(rebuilt)
    return RotationSummary(
        warehouse=warehouse, backup=backup, files=len(plan), rows=rows,
        tables_compared=compared, differing=differing, seconds=time.perf_counter() - started,
    )


def record_key(settings: Settings) -> str:
    """Record the key's fingerprint for a warehouse built before fingerprints, as told.

    For the case check_key cannot settle (no archived delivery left to check the key against):
    the operator vouches for the key. Refused when a fingerprint is already recorded.
    """
    with warehouse_lock(settings.lock_file):
        if not settings.warehouse.is_file():
            raise RotationRefused(f"there is no warehouse at {settings.warehouse}")
        con = connect(settings.warehouse)
        try:
            if recorded_fingerprint(con) is not None:
                raise RotationRefused(
                    "the warehouse already records its key; use `icw rotate-key` to change it")
            if not holds_person_ids(con):
                raise RotationRefused(
                    "the warehouse holds no person_id yet; its first refresh records the key")
            record_fingerprint(con, settings.pseudonymisation_key, RECORDED_BY_OPERATOR,
                               "recorded with `icw rotate-key --record-only`")
        finally:
            con.close()
    return "Recorded ICW_PSEUDONYMISATION_KEY's fingerprint as the key of this warehouse."
