"""Load landed extract files into the warehouse by the contract (docs/contract.md).

Read as text, judge in SQL: each file is checked as a whole first (name, gzip, UTF-8, CSV
structure, header); then DuckDB's CSV reader reads every column as text and one SQL pass gives
each row its first failing reason. Valid rows load, the others go to audit.quarantined_rows,
and the audit row commits in the same transaction. Only after the commit does the file move
(archive/ or quarantine/), so a run killed at any moment is finished by the next.

``Loader`` holds the pass and each file's transaction, and runs the steps in order; the steps
live in ``files`` (the whole file), ``rows`` and ``judging`` (its rows), ``load_audit``
(audit.loads), ``batch_validation`` (the GX suite on the batch) and ``expectation_results``
(the suite's counts, in audit.expectation_results).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import duckdb

from orchestration.core.settings import Settings
from orchestration.core.warehouse import ensure_schema
from orchestration.ingestion import contract as c
from orchestration.ingestion import load_audit, rows
from orchestration.ingestion.files import (
    CheckedFile,
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
from orchestration.ingestion.scan import RecordScan

Log = Callable[[str], None]


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
        for i, landed in enumerate(recognised, 1):
            outcome = self.ingest_file(landed)
            summary.outcomes.append(outcome)
            self.log(f"[{i}/{len(recognised)}] {self.describe(outcome)}")
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

    # -- one file -----------------------------------------------------------------------------

    def ingest_file(self, landed: LandedFile) -> FileOutcome:
        """Load, reject or archive one recognised file; the audit row commits with its rows."""
        started = time.perf_counter()
        delivered = landed.path.read_bytes()
        sha = hashlib.sha256(delivered).hexdigest()
        finished = load_audit.committed_not_moved(self.con, landed, sha)
        if finished:  # its arrival is committed but it was not moved: only finish the move
            move(landed.path, finished.stored_as)
            return finished
        self.con.begin()
        load_id = load_audit.next_load_id(self.con)
        try:
            if load_audit.already_loaded(self.con, sha):
                outcome = FileOutcome(
                    landed.name, landed.extract, DUPLICATE,
                    "the same bytes were delivered before; nothing changed",
                )
            else:
                outcome = self._load(landed, delivered, load_id)
        except FileRejected as exc:
            self.con.rollback()
            self.con.begin()
            load_id = load_audit.next_load_id(self.con)
            outcome = FileOutcome(landed.name, landed.extract, REJECTED, str(exc))
        except BaseException:
            self.con.rollback()
            raise
        outcome.bytes = len(delivered)
        outcome.stored_as = destination(self.settings, landed, outcome.status)
        outcome.seconds = time.perf_counter() - started
        load_audit.write_load(self.con, landed, sha, outcome, load_id)
        self.con.commit()
        move(landed.path, outcome.stored_as)
        return outcome

    # -- the load itself ------------------------------------------------------------------------

    def _load(self, landed: LandedFile, delivered: bytes, load_id: int) -> FileOutcome:
        assert landed.extract is not None
        extract = c.EXTRACTS[landed.extract]
        checked = check_file(landed, extract, delivered)
        outcome = self._load_rows(landed, extract, checked, load_id)
        extra = checked.extra
        outcome.extra_columns = extra or None  # type: ignore[attr-defined]
        if extra:
            outcome.message = (outcome.message + "; " if outcome.message else "") + (
                f"extra column(s) ignored: {', '.join(extra)}"
            )
        return outcome

    def _read_csv(self, landed: LandedFile, scan: RecordScan, width: int) -> int:
        """Read every record of the file as text into temp table __batch (rows.read_records)."""
        return rows.read_records(self.con, landed, scan, width)

    def _load_rows(
        self, landed: LandedFile, extract: c.Extract, checked: CheckedFile, load_id: int
    ) -> FileOutcome:
        scan, names = checked.scan, checked.names
        width = len(names)
        good = scan.field_counts == width
        n_read = self._read_csv(landed, scan, max(width, int(scan.field_counts.max(initial=0))))
        if n_read != scan.rows_read + 1:
            raise FileRejected(
                "not readable as CSV: its records could not be matched to lines (DuckDB's "
                f"reader found {n_read} records, the line scan {scan.rows_read + 1}, header "
                "included)"
            )
        rows.drop_header_and_wrong_records(self.con, good)
        n_batch = int(good.sum())
        assert landed.as_at is not None
        judge(self.con, landed.as_at, extract, names, self.rules[extract.name],
              scan.line_numbers[good])
        self._validate(landed, extract, load_id)
        self._pseudonyms.make_table(self.con)
        rows.insert_valid_rows(self.con, landed, extract, load_id)
        rows.insert_quarantined_rows(self.con, landed, extract, load_id, scan, good)
        wrong = int((~good).sum())
        reasons = rows.reason_counts(self.con, wrong)
        quarantined = sum(reasons.values())
        loaded = n_batch - (quarantined - wrong)
        rows.drop_batch_tables(self.con)
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


def ingest(
    con: duckdb.DuckDBPyConnection, settings: Settings, log: Log = print
) -> IngestSummary:
    """Load everything in the landing folder into the warehouse open on con."""
    return Loader(con, settings, log=log).ingest_landing()
