"""Load landed extract files into the warehouse by the contract (docs/contract.md).

Read as text, judge in SQL: each file is checked as a whole first (name, gzip, UTF-8, CSV
structure, header); then DuckDB's CSV reader reads every column as text and one SQL pass gives
each row its first failing reason. Valid rows load, the others go to audit.quarantined_rows,
and the audit row commits in the same transaction. Only after the commit does the file move
(archive/ or quarantine/), so a run killed at any moment is finished by the next.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
import hashlib
import itertools
import shutil
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.core.settings import Settings
from orchestration.core.warehouse import ensure_schema, raw_columns
from orchestration.ingestion import contract as c
from orchestration.ingestion.pseudonymise import person_ids
from orchestration.ingestion.scan import CsvStructureError, RecordScan, scan_records

LOADED, REJECTED, DUPLICATE, UNRECOGNISED = "LOADED", "REJECTED", "DUPLICATE", "UNRECOGNISED_FILE"

Log = Callable[[str], None]


class FileRejected(Exception):
    """A file-level fault: the whole file is rejected with this message."""


@dataclass(frozen=True)
class LandedFile:
    """A file in the landing folder, with what its name says."""

    path: Path
    extract: str | None
    as_at: dt.date | None
    name_fault: str | None = None

    @property
    def name(self) -> str:
        """The file's name as delivered."""
        return self.path.name

    @property
    def recognised(self) -> bool:
        """True when the name is one of the contract's extract names."""
        return self.extract is not None

    def sort_key(self) -> tuple:
        """Contract order: as-at date, then extract (caseload, referrals, completions), name."""
        return (
            self.as_at or dt.date.min,
            c.EXTRACT_ORDER.index(self.extract) if self.extract else -1,
            self.name,
        )


@dataclass
class FileOutcome:
    """What happened to one file, as recorded in audit.loads (or a finished move)."""

    file_name: str
    extract: str | None
    status: str
    message: str = ""
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    stored_as: Path | None = None
    recovered: bool = False
    seconds: float = 0.0
    bytes: int = 0


@dataclass
class IngestSummary:
    """One pass over the landing folder."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Files of a status in this pass (recoveries of an earlier pass not counted)."""
        return sum(1 for o in self.outcomes if o.status == status and not o.recovered)

    @property
    def rows_loaded(self) -> int:
        """Rows loaded by this pass."""
        return sum(o.rows_loaded or 0 for o in self.outcomes if not o.recovered)

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined by this pass."""
        return sum(o.rows_quarantined or 0 for o in self.outcomes if not o.recovered)

    def for_extract(self, extract: str) -> list[FileOutcome]:
        """Outcomes of one extract's files."""
        return [o for o in self.outcomes if o.extract == extract]


def recognise(path: Path) -> LandedFile:
    """Classify a landed file by its name alone."""
    m = c.FILE_NAME.match(path.name)
    if not m:
        return LandedFile(path, None, None)
    try:
        as_at = dt.date.fromisoformat(m["date"])
    except ValueError:
        fault = f"the date in the name ({m['date']}) is not a real date"
        return LandedFile(path, m["extract"], None, fault)
    return LandedFile(path, m["extract"], as_at)


def landed_files(landing_dir: Path) -> list[LandedFile]:
    """Every regular file in the landing folder, in the contract's processing order."""
    if not landing_dir.is_dir():
        return []
    files = [recognise(p) for p in landing_dir.iterdir() if p.is_file()]
    return sorted(files, key=LandedFile.sort_key)


def _is_month_end(day: dt.date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _free_path(folder: Path, name: str) -> Path:
    """A path in folder for name that does not exist yet (archive names never collide)."""
    candidate = folder / name
    stem, dot, suffix = name.partition(".")
    for n in itertools.count(2):
        if not candidate.exists():
            return candidate
        candidate = folder / f"{stem}__{n}{dot}{suffix}"
    raise AssertionError("unreachable")


def _destination(settings: Settings, landed: LandedFile, status: str) -> Path:
    if status == REJECTED:
        return _free_path(settings.quarantine_dir, landed.name)
    folder = settings.archive_dir / (landed.as_at.isoformat() if landed.as_at else "undated")
    return _free_path(folder, landed.name)


def _move(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dest))


def _decode(landed: LandedFile, delivered: bytes) -> bytes:
    """Decompress (checking the gzip trailer) and check the text is UTF-8."""
    data = delivered
    if landed.name.endswith(".gz"):
        if not delivered:  # Python reads zero bytes as an empty stream; it is no gzip at all
            raise FileRejected("not readable as gzip (the .gz is empty: no gzip header)")
        try:
            data = gzip.decompress(delivered)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileRejected(
                f"not readable as gzip ({type(exc).__name__}: the .gz is broken)"
            ) from exc
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise FileRejected(f"not UTF-8 text (first bad byte on line {line})") from exc
    return data


class Loader:
    """Loads landed files into one warehouse connection, one transaction per file."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: Settings,
        reference_codes: dict[str, tuple[str, ...]] | None = None,
        log: Log = print,
    ) -> None:
        self.con = con
        self.settings = settings
        self.reference_codes = reference_codes or c.load_reference_codes()
        self.rules = {
            name: c.rules_for(extract, self.reference_codes) for name, extract in c.EXTRACTS.items()
        }
        self.log = log
        self._pseudonyms: dict[str, str] = {}
        ensure_schema(con)

    # -- the landing folder -------------------------------------------------------------------

    def ingest_landing(self) -> IngestSummary:
        """Process every file in the landing folder in the contract's order."""
        self.settings.ensure_dirs()
        summary = IngestSummary()
        files = landed_files(self.settings.landing_dir)
        recognised = [f for f in files if f.recognised]
        self.log(f"{len(recognised)} extract file(s) in {self.settings.landing_dir}")
        for i, landed in enumerate(recognised, 1):
            outcome = self.ingest_file(landed)
            summary.outcomes.append(outcome)
            self.log(f"[{i}/{len(recognised)}] {self.describe(outcome)}")
        for landed in (f for f in files if not f.recognised):
            self._record_unrecognised(landed)
            summary.unrecognised.append(landed.name)
            self.log(f"{UNRECOGNISED}: {landed.name} is not an extract name; left in place")
        return summary

    @staticmethod
    def describe(o: FileOutcome) -> str:
        """One line for the run log: never a value from the file."""
        if o.recovered:
            return f"{o.file_name}: already {o.status} by an interrupted run; move finished"
        if o.status == LOADED:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(o.reasons.items()))
            return (
                f"{o.file_name}: LOADED {o.rows_loaded} of {o.rows_read} rows"
                + (f", quarantined {o.rows_quarantined} ({reasons})" if o.rows_quarantined else "")
                + f" in {o.seconds:.2f}s"
            )
        return f"{o.file_name}: {o.status}: {o.message}"

    # -- one file -----------------------------------------------------------------------------

    def ingest_file(self, landed: LandedFile) -> FileOutcome:
        """Load, reject or archive one recognised file; the audit row commits with its rows."""
        started = time.perf_counter()
        delivered = landed.path.read_bytes()
        sha = hashlib.sha256(delivered).hexdigest()
        finished = self._finish_interrupted(landed, sha)
        if finished:
            return finished
        self.con.begin()
        load_id = self._next_load_id()
        try:
            if self._already_loaded(sha):
                outcome = FileOutcome(
                    landed.name, landed.extract, DUPLICATE,
                    "the same bytes were delivered before; nothing changed",
                )
            else:
                outcome = self._load(landed, delivered, load_id)
        except FileRejected as exc:
            self.con.rollback()
            self.con.begin()
            load_id = self._next_load_id()
            outcome = FileOutcome(landed.name, landed.extract, REJECTED, str(exc))
        except BaseException:
            self.con.rollback()
            raise
        outcome.bytes = len(delivered)
        outcome.stored_as = _destination(self.settings, landed, outcome.status)
        outcome.seconds = time.perf_counter() - started
        self._write_audit(landed, sha, outcome, load_id)
        self.con.commit()
        _move(landed.path, outcome.stored_as)
        return outcome

    def _finish_interrupted(self, landed: LandedFile, sha: str) -> FileOutcome | None:
        """A file whose arrival is committed but not moved: only finish the move."""
        row = self.con.execute(
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
        _move(landed.path, Path(row[1]))
        return FileOutcome(
            landed.name, landed.extract, row[0], row[5] or "", row[2], row[3], row[4],
            stored_as=Path(row[1]), recovered=True,
        )

    def _next_load_id(self) -> int:
        """The next load id, read inside the file's transaction.

        Not a sequence: after a crash DuckDB's WAL replay restores committed rows but may not
        restore a sequence's position, which would reuse an id. One writer at a time makes
        max + 1 safe, and it always agrees with what has been committed.
        """
        return int(self.con.execute(
            "select coalesce(max(load_id), 0) + 1 from audit.loads").fetchone()[0])

    def _already_loaded(self, sha: str) -> bool:
        return bool(
            self.con.execute(
                "select count(*) from audit.loads where sha256 = ? and status = ?", [sha, LOADED]
            ).fetchone()[0]
        )

    def _record_unrecognised(self, landed: LandedFile) -> None:
        sha = hashlib.sha256(landed.path.read_bytes()).hexdigest()
        known = self.con.execute(
            "select count(*) from audit.loads where file_name = ? and sha256 = ? and status = ?",
            [landed.name, sha, UNRECOGNISED],
        ).fetchone()[0]
        if not known:
            outcome = FileOutcome(
                landed.name, None, UNRECOGNISED,
                "not an extract name (<extract>_<YYYY-MM-DD>.csv[.gz]); left in the landing folder",
                bytes=landed.path.stat().st_size,
            )
            self.con.begin()
            self._write_audit(landed, sha, outcome, self._next_load_id())
            self.con.commit()

    def _write_audit(self, landed: LandedFile, sha: str, o: FileOutcome, load_id: int) -> None:
        self.con.execute(
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

    # -- the load itself ------------------------------------------------------------------------

    def _load(self, landed: LandedFile, delivered: bytes, load_id: int) -> FileOutcome:
        assert landed.extract is not None
        extract = c.EXTRACTS[landed.extract]
        if landed.name_fault:
            raise FileRejected(landed.name_fault)
        assert landed.as_at is not None
        if extract.name == "caseload" and not _is_month_end(landed.as_at):
            raise FileRejected(f"a caseload file must be dated at a month end, not {landed.as_at}")
        data = _decode(landed, delivered)
        try:
            scan = scan_records(data)
        except CsvStructureError as exc:
            raise FileRejected(f"not readable as CSV: {exc}") from exc
        names = [h.strip().lower() for h in scan.header]
        missing = [col for col in extract.required if col not in names]
        if not scan.header:
            raise FileRejected("the file is empty: no header line")
        if missing:
            raise FileRejected(f"missing required column(s): {', '.join(missing)}")
        repeated = sorted({n for n in names if names.count(n) > 1 and n in extract.column_names})
        if repeated:
            raise FileRejected(f"column(s) named twice in the header: {', '.join(repeated)}")
        extra = [
            h.strip()
            for h, n in zip(scan.header, names, strict=True)
            if n not in extract.column_names
        ]

        outcome = self._load_rows(landed, extract, scan, names, load_id)
        outcome.extra_columns = extra or None  # type: ignore[attr-defined]
        if extra:
            outcome.message = (outcome.message + "; " if outcome.message else "") + (
                f"extra column(s) ignored: {', '.join(extra)}"
            )
        return outcome

    def _read_csv(self, landed: LandedFile, scan: RecordScan, width: int) -> int:
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
        self.con.execute("drop table if exists __batch")
        try:
            self.con.execute(
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
        return self.con.execute("select count(*) from __batch").fetchone()[0]

    def _load_rows(
        self,
        landed: LandedFile,
        extract: c.Extract,
        scan: RecordScan,
        names: list[str],
        load_id: int,
    ) -> FileOutcome:
        width = len(names)
        good = scan.field_counts == width
        n_read = self._read_csv(landed, scan, max(width, int(scan.field_counts.max(initial=0))))
        if n_read != scan.rows_read + 1:
            raise FileRejected(
                "not readable as CSV: its records could not be matched to lines (DuckDB's "
                f"reader found {n_read} records, the line scan {scan.rows_read + 1}, header "
                "included)"
            )
        # the header goes (the first row), and the records with a wrong number of fields, which
        # are quarantined without values; rowids are not 0, 1, ... inside a transaction
        self.con.execute("delete from __batch where rowid = (select min(rowid) from __batch)")
        if not good.all():
            wrong = np.flatnonzero(~good).astype(np.int64)
            self.con.register("__wrong_ordinals", pd.DataFrame({"ordinal": wrong}))
            self.con.execute(
                """
                delete from __batch where rowid in (
                    select rowid from (
                        select rowid, row_number() over (order by rowid) - 1 as ordinal
                        from __batch
                    ) semi join __wrong_ordinals using (ordinal)
                )
                """
            )
            self.con.unregister("__wrong_ordinals")
        n_batch = int(good.sum())
        self.con.register(
            "__lines", pd.DataFrame({"__ordinal": np.arange(n_batch, dtype=np.int64),
                                     "__line": scan.line_numbers[good]})
        )
        self._judge(landed, extract, names)
        self.con.unregister("__lines")
        self._validate(landed, extract, load_id)
        self._pseudonymise()
        as_at = landed.as_at.isoformat()
        if extract.name == "caseload":
            self.con.execute("delete from raw.caseload where snapshot_date = ?", [landed.as_at])
        target_cols = [name for name, _ in raw_columns(extract)]
        select = [str(load_id), "$file_name", f"date '{as_at}'", "j.__line"]
        for col in extract.columns:
            if col.name == extract.crn_column:
                select.append("p.person_id")
            elif col.name == extract.dob_column:
                select.append("j.__age_band")
            else:
                select.append(f"j.t_{col.name}")
        self.con.execute(
            f"""
            insert into raw.{extract.name} ({', '.join(target_cols)})
            select {', '.join(select)}
            from __judged j left join __pseudonyms p on p.crn = j.v_{extract.crn_column}
            where j.reason_code is null
            order by j.__line
            """,
            {"file_name": landed.name},
        )
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
        self.con.execute(
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
            self.con.register("__wrong", pd.DataFrame({"line": wrong_lines,
                                                       "fields": scan.field_counts[~good]}))
            self.con.execute(
                f"""
                insert into audit.quarantined_rows (load_id, file_name, extract, line_number,
                    reason_code, message)
                select {load_id}, $file_name, '{extract.name}', line, '{c.WRONG_FIELD_COUNT}',
                    'wrong number of fields: ' || fields || ' where the header has {width}'
                from __wrong
                """,
                {"file_name": landed.name},
            )
            self.con.unregister("__wrong")
        reasons = dict(
            self.con.execute(
                "select reason_code, count(*) from __judged where reason_code is not null "
                "group by all"
            ).fetchall()
        )
        if wrong_lines.size:
            reasons[c.WRONG_FIELD_COUNT] = int(wrong_lines.size)
        quarantined = sum(reasons.values())
        loaded = n_batch - (quarantined - int(wrong_lines.size))
        self.con.execute("drop table if exists __judged")
        self.con.execute("drop table if exists __batch")
        self.con.execute("drop table if exists __pseudonyms")
        outcome = FileOutcome(
            landed.name, extract.name, LOADED, "", scan.rows_read, loaded, quarantined, reasons
        )
        if outcome.rows_read != loaded + quarantined:  # the contract's accounting, enforced
            raise AssertionError(
                f"{landed.name}: rows read {scan.rows_read} != loaded + quarantined"
            )
        return outcome

    def _validate(self, landed: LandedFile, extract: c.Extract, load_id: int) -> None:
        """Validate the raw batch (every parsed row, before quarantine) with the extract's GX suite.

        The counts per expectation commit with the file's rows, in audit.expectation_results.
        """
        from orchestration.ingestion.batch_validation import validate_batch
        from orchestration.ingestion.expectation_results import record_results

        assert landed.as_at is not None
        validation = validate_batch(self.con, extract.name, landed.as_at)
        record_results(self.con, load_id, landed.name, validation)

    def _judge(self, landed: LandedFile, extract: c.Extract, names: list[str]) -> None:
        """Give every parsed row its first failing reason, in the contract's precedence."""
        position = {n: i for i, n in enumerate(names)}
        norm = []
        for col in extract.columns:
            ref = f"nullif(trim(b.__c{position[col.name]}), '')"
            norm.append(f"{'upper(' + ref + ')' if col.upper_cased else ref} as {col.name}")
        typed = [f"{c.typed_sql(col, 'v.' + col.name)} as {col.name}" for col in extract.columns]
        rules = self.rules[extract.name]
        reason = " ".join(f"when {r.fault_sql} then '{r.reason_code}'" for r in rules)
        message = " ".join(
            f"when {r.fault_sql} then '{r.message.replace(chr(39), chr(39) * 2)}'" for r in rules
        )
        key = ", ".join(f"v.{k}" for k in extract.key)
        age_band = "null"
        if extract.dob_column:
            age = f"date_sub('year', t.{extract.dob_column}, t.snapshot_date)"
            age_band = (
                f"case when t.{extract.dob_column} is null or t.snapshot_date is null "
                f"or t.{extract.dob_column} > t.snapshot_date then null "
                f"when {age} < 18 then 'UNDER_18' when {age} < 25 then '18-24' "
                f"when {age} < 35 then '25-34' when {age} < 50 then '35-49' else '50+' end"
            )
        self.con.execute("drop table if exists __judged")
        self.con.execute(
            f"""
            create temp table __judged as
            with v as (
                select
                    row_number() over (order by b.rowid) - 1 as __ordinal,
                    {', '.join(norm)}
                from __batch b
            ),
            t as (
                select v.__ordinal, date '{landed.as_at.isoformat()}' as __as_at,
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

    def _pseudonymise(self) -> None:
        """Replace CRNs by keyed pseudonyms: each distinct CRN is hashed once per run.

        Month after month the caseload is mostly the same people, so the run keeps the
        pseudonyms it has made (in memory only, never stored) and hashes only new CRNs.
        """
        crns = [r[0] for r in self.con.execute(
            "select distinct v_crn from __judged where v_crn is not null").fetchall()]
        new = [crn for crn in crns if crn not in self._pseudonyms]
        self._pseudonyms.update(person_ids(new, self.settings.pseudonymisation_key))
        frame = pd.DataFrame({"crn": crns, "person_id": [self._pseudonyms[c] for c in crns]},
                             dtype="object")
        self.con.register("__pseudonym_frame", frame)
        self.con.execute("drop table if exists __pseudonyms")
        self.con.execute("create temp table __pseudonyms as select * from __pseudonym_frame")
        self.con.unregister("__pseudonym_frame")

def ingest(
    con: duckdb.DuckDBPyConnection, settings: Settings, log: Log = print
) -> IngestSummary:
    """Load everything in the landing folder into the warehouse open on con."""
    return Loader(con, settings, log=log).ingest_landing()


def unrecognised_names(files: Iterable[LandedFile]) -> list[str]:
    """Names of landed files that are not extracts."""
    return [f.name for f in files if not f.recognised]
