"""Load landed extract files into the warehouse by the contract (docs/contract.md).

Read as text, judge in SQL, set-based: each file is checked as a whole first (name, gzip,
UTF-8, CSV structure, header, and whether the same bytes were loaded before, this run included);
then, per extract in the contract's order, the accepted files are read by one ``read_csv``, one
SQL statement gives each row its first failing reason, one join pseudonymises them, one insert
puts the valid rows into raw.<extract> and one the others into audit.quarantined_rows, and Great
Expectations validates the batch once, counting per file (an extract of more than
``BATCH_RECORDS`` records goes in a few such batches, in order, in the same transaction). Each
file keeps its own load id (in the contract's order, as if loaded one by one), its own
audit.loads row and its own counts; a file whose records cannot be matched to lines is rejected
whole while the others load. The audit rows commit with the rows, in one transaction per
extract; only after the commit do the files move (archive/ or quarantine/), so a run killed at
any moment is finished by the next.

``Loader`` holds the pass and the transactions, and runs the steps in order; the steps live in
``files`` (the whole file), ``rows`` and ``judging`` (the rows), ``load_audit`` (audit.loads),
``batch_validation`` (the GX suite on the batch) and ``expectation_results`` (the suite's counts
per file, in audit.expectation_results).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import duckdb

from orchestration.core.settings import Settings
from orchestration.core.warehouse import ensure_schema
from orchestration.ingestion import batch_validation, load_audit, rows
from orchestration.ingestion import contract as c
from orchestration.ingestion.expectation_results import record_results
from orchestration.ingestion.files import (
    FileRejected,
    LandedFile,
    check_file,
    destination,
    landed_files,
    move,
)
from orchestration.ingestion.judging import judge
from orchestration.ingestion.outcomes import (
    DUPLICATE,
    LOADED,
    REJECTED,
    UNRECOGNISED,
    FileOutcome,
    IngestSummary,
)
from orchestration.ingestion.rows import FileRecords

Log = Callable[[str], None]


class Loader:
    """Loads landed files into one warehouse connection, one transaction per extract batch."""

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
        self._pseudonyms = rows.Pseudonyms(settings.pseudonymisation_key)
        ensure_schema(con)

    # -- the landing folder -------------------------------------------------------------------

    def ingest_landing(self) -> IngestSummary:
        """Process every file in the landing folder in the contract's order."""
        self.settings.ensure_dirs()
        summary = IngestSummary()
        files = landed_files(self.settings.landing_dir)
        recognised = [f for f in files if f.recognised]
        self.log(f"{len(recognised)} extract file(s) in {self.settings.landing_dir}")
        summary.outcomes.extend(self.ingest_files(recognised))
        for landed in (f for f in files if not f.recognised):
            load_audit.record_unrecognised(self.con, landed)
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

    def ingest_file(self, landed: LandedFile) -> FileOutcome:
        """Load, reject or archive one recognised file; the audit row commits with its rows."""
        return self.ingest_files([landed])[0]

    # -- a run's files ----------------------------------------------------------------------------

    def ingest_files(self, landed: list[LandedFile]) -> list[FileOutcome]:
        """Load, reject or archive recognised files (given in the contract's order).

        Their outcomes come back in that order, whatever order the batches ran in; each is
        logged once its batch has committed and its file moved.
        """
        self._done, self._total = 0, len(landed)
        outcomes: dict[int, FileOutcome] = {}
        pending: list[_File] = []
        for index, one in enumerate(landed):
            started = time.perf_counter()
            sha, size = _digest(one)
            finished = load_audit.committed_not_moved(self.con, one, sha)
            if finished:  # its arrival is committed but it was not moved: only finish the move
                move(one.path, finished.stored_as)
                outcomes[index] = finished
                self._report(finished)
                continue
            pending.append(_File(index, one, sha, size, seconds=time.perf_counter() - started))
        # Load ids in the contract's order, as one-by-one loading gave them: the order that
        # says which version of a record is the latest downstream.
        first_id = load_audit.next_load_id(self.con)
        for k, f in enumerate(pending):
            f.load_id = first_id + k
        for group in _groups(pending):
            loaded: set[str] = set()
            remaining = group
            while remaining:  # a file repeating a rejected file's bytes is loaded in a next round
                remaining = self._round(remaining, loaded)
        for f in pending:
            assert f.outcome is not None
            outcomes[f.index] = f.outcome
        return [outcomes[i] for i in range(len(landed))]

    def _report(self, outcome: FileOutcome) -> None:
        self._done += 1
        self.log(f"[{self._done}/{self._total}] {self.describe(outcome)}")

    def _round(self, files: list[_File], loaded: set[str]) -> list[_File]:
        """One transaction over files of one extract; the files left for a next round."""
        refused: dict[int, str] = {}
        while True:
            try:
                return self._transaction(files, loaded, refused)
            except rows.ReaderRefused as exc:  # rare: DuckDB's reader refused a file
                # (_transaction rolled back: DuckDB aborts a transaction on a failed statement)
                found = rows.refused_files(self.con, exc.args[1])
                if not found or found.keys() <= refused.keys():
                    raise exc.__cause__ or exc from None
                refused.update(found)

    def _transaction(
        self, files: list[_File], loaded: set[str], refused: dict[int, str]
    ) -> list[_File]:
        order = self.con.execute(
            "select current_setting('preserve_insertion_order')").fetchone()[0]
        self.con.begin()
        try:
            known = load_audit.loaded_shas(self.con, [f.sha for f in files])
            first_of: dict[str, _File] = {}
            accepted: list[FileRecords] = []
            deferred: list[tuple[_File, _File]] = []
            for f in files:
                started = time.perf_counter()
                f.outcome = None
                name, extract = f.landed.name, f.landed.extract
                if f.sha in known or f.sha in loaded:
                    f.outcome = FileOutcome(
                        name, extract, DUPLICATE,
                        "the same bytes were delivered before; nothing changed",
                    )
                elif f.sha in first_of:  # the same bytes earlier in this run: decided below
                    deferred.append((f, first_of[f.sha]))
                    continue
                else:
                    first_of[f.sha] = f
                    try:
                        if f.index in refused:
                            raise FileRejected(refused[f.index])
                        assert extract is not None
                        checked = check_file(f.landed, c.EXTRACTS[extract],
                                             f.landed.path.read_bytes())
                        accepted.append(FileRecords.of(f.index, f.landed, f.load_id, checked))
                    except FileRejected as exc:
                        f.outcome = FileOutcome(name, extract, REJECTED, str(exc))
                f.seconds += time.perf_counter() - started
            by_index = {f.index: f for f in files}
            for batch in _batches(accepted):
                for fileno, outcome in self._load_batch(batch).items():
                    by_index[fileno].outcome = outcome
                    by_index[fileno].seconds += outcome.seconds
            later = []
            for f, first in deferred:
                assert first.outcome is not None
                if first.outcome.status == LOADED:
                    f.outcome = FileOutcome(
                        f.landed.name, f.landed.extract, DUPLICATE,
                        "the same bytes were delivered before; nothing changed",
                    )
                else:
                    later.append(f)
            waiting = {f.index for f in later}
            decided = [f for f in files if f.index not in waiting]
            for f in decided:
                o = f.outcome
                assert o is not None
                o.bytes = f.size
                o.stored_as = destination(self.settings, f.landed, o.status)
                o.seconds = f.seconds
                load_audit.write_load(self.con, f.landed, f.sha, o, f.load_id)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        finally:
            self.con.execute(f"set preserve_insertion_order = {str(order).lower()}")
        for f in decided:
            assert f.outcome is not None and f.outcome.stored_as is not None
            move(f.landed.path, f.outcome.stored_as)
            if f.outcome.status == LOADED:
                loaded.add(f.sha)
            self._report(f.outcome)
        return later

    # -- the load itself ------------------------------------------------------------------------

    def _read_csv(self, files: list[FileRecords]) -> None:
        """Read every record of the files as text into temp table __batch (rows.read_records)."""
        rows.read_records(self.con, files)

    def _load_batch(self, files: list[FileRecords]) -> dict[int, FileOutcome]:
        """Load the accepted files of one extract together: each file's outcome by its number."""
        started = time.perf_counter()
        extract = c.EXTRACTS[files[0].landed.extract or ""]
        outcomes: dict[int, FileOutcome] = {}
        self._insertion_order(True)  # each file's records in read order
        self._read_csv(files)
        counts = rows.record_counts(self.con)
        loading = []
        for f in files:
            n = counts.get(f.path, (0, 0, -1))[0]
            if n != f.rows_read + 1:
                outcomes[f.fileno] = FileOutcome(
                    f.landed.name, extract.name, REJECTED,
                    "not readable as CSV: its records could not be matched to lines "
                    f"(DuckDB's reader found {n} records, the line scan {f.rows_read + 1}, "
                    "header included)",
                )
            else:
                loading.append(f)
        if loading:
            consecutive = all(
                counts[f.path][2] - counts[f.path][1] + 1 == counts[f.path][0] for f in loading
            )
            first_rowid = {f.fileno: counts[f.path][1] for f in loading}
            self._insertion_order(False)  # from here every row carries its file and line
            outcomes.update(
                self._load_rows(extract, loading, first_rowid if consecutive else None)
            )
        rows.drop_batch_tables(self.con)  # (a failed batch's go with its rollback)
        # each file's share of the batch's time, by its records
        seconds = time.perf_counter() - started
        total = sum(f.rows_read + 1 for f in files)
        for f in files:
            outcomes[f.fileno].seconds = seconds * (f.rows_read + 1) / total
        return outcomes

    def _insertion_order(self, preserve: bool) -> None:
        """DuckDB's preserve_insertion_order; the transaction's end puts it back as it was."""
        self.con.execute(f"set preserve_insertion_order = {str(preserve).lower()}")

    def _load_rows(
        self, extract: c.Extract, files: list[FileRecords], first_rowid: dict[int, int] | None
    ) -> dict[int, FileOutcome]:
        rows.register_files(self.con, extract, files, first_rowid)
        judge(
            self.con, extract, {f.fileno: f.names for f in files}, self.rules[extract.name],
            first_rowid is not None,
            irregular=any(f.lines is not None for f in files),
            wrong=any(f.wrong.size for f in files),
        )
        self.con.execute("drop table __batch")  # judged: its memory is needed from here
        self._validate(extract, files)
        self._pseudonyms.make_table(self.con)
        rows.insert_valid_rows(self.con, extract)
        rows.insert_quarantined_rows(self.con, extract)
        counted = rows.row_counts(self.con)
        outcomes = {}
        for f in files:
            loaded, reasons = counted.get(f.fileno, (0, {}))
            quarantined = sum(reasons.values())
            if f.rows_read != loaded + quarantined:  # the contract's accounting, enforced
                raise AssertionError(
                    f"{f.landed.name}: rows read {f.rows_read} != loaded {loaded} + "
                    f"quarantined {quarantined}"
                )
            outcome = FileOutcome(f.landed.name, extract.name, LOADED, "", f.rows_read, loaded,
                                  quarantined, reasons)
            outcome.extra_columns = f.extra or None  # type: ignore[attr-defined]
            if f.extra:
                outcome.message = f"extra column(s) ignored: {', '.join(f.extra)}"
            outcomes[f.fileno] = outcome
        return outcomes

    def _validate(self, extract: c.Extract, files: list[FileRecords]) -> None:
        """Validate the raw batch (every parsed row, before quarantine) with the extract's GX suite.

        Once for the batch, counted per file; each file's counts per expectation commit with its
        rows, in audit.expectation_results under its own load id.
        """
        validation = batch_validation.validate_batch(self.con, extract.name)
        for f in files:
            record_results(self.con, f.load_id, f.landed.name, validation.for_file(f.fileno))


@dataclass
class _File:
    """A recognised file of this run: its place in the contract's order, bytes' digest, fate."""

    index: int
    landed: LandedFile
    sha: str
    size: int
    load_id: int = 0
    seconds: float = 0.0
    outcome: FileOutcome | None = None


def _digest(landed: LandedFile) -> tuple[str, int]:
    """The file's sha256 and size, read in blocks."""
    with landed.path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        return digest.hexdigest(), f.tell()


#: Records a batch reads at most (unless one file has more): an extract's files go in one batch
#: at a division's scale; at a nation's, in batches of a few files each, so the batch's temp
#: tables stay well inside DuckDB's memory limit instead of spilling to disk.
BATCH_RECORDS = 1_000_000


def _batches(files: list[FileRecords]) -> Iterator[list[FileRecords]]:
    """Consecutive files of an extract, as few batches as BATCH_RECORDS allows, in order."""
    batch: list[FileRecords] = []
    records = 0
    for f in files:
        if batch and records + f.rows_read > BATCH_RECORDS:
            yield batch
            batch, records = [], 0
        batch.append(f)
        records += f.rows_read
    if batch:
        yield batch


def _groups(files: list[_File]) -> Iterator[list[_File]]:
    """The batches of a run: one per extract, in the contract's order.

    Were the same bytes delivered under two extracts' names (which only an odd file could load
    as both), whether the later is a DUPLICATE depends on the contract's order across extracts:
    then the files go one by one, in that order, as they always did.
    """
    extracts_of: dict[str, set[str | None]] = {}
    for f in files:
        extracts_of.setdefault(f.sha, set()).add(f.landed.extract)
    if any(len(e) > 1 for e in extracts_of.values()):
        yield from ([f] for f in files)
        return
    for extract in c.EXTRACT_ORDER:
        group = [f for f in files if f.landed.extract == extract]
        if group:
            yield group


def ingest(
    con: duckdb.DuckDBPyConnection, settings: Settings, log: Log = print
) -> IngestSummary:
    """Load everything in the landing folder into the warehouse open on con."""
    return Loader(con, settings, log=log).ingest_landing()
