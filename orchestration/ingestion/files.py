"""Landed extract files as whole files: recognising, checking, decoding and moving them.

A file is recognised by its name alone (docs/contract.md), then checked as a whole before any row
is read: the date in its name, a caseload's month end, gzip, UTF-8, CSV structure (the line scan)
and the header. Any fault rejects the whole file (``FileRejected``). After its audit row commits,
the loader moves the file to archive/<as-at date>/ or quarantine/, under a name that is still
free, so nothing delivered is ever overwritten.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
import itertools
import shutil
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestration.core.settings import Settings
from orchestration.ingestion import contract as c
from orchestration.ingestion.outcomes import REJECTED
from orchestration.ingestion.scan import CsvStructureError, RecordScan, scan_records


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


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the whole-file checks: its records and what its header names."""

    scan: RecordScan
    names: list[str]  # the header's names, trimmed and lower-cased
    extra: list[str]  # header names that are not contract columns, as delivered (trimmed)


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


def unrecognised_names(files: Iterable[LandedFile]) -> list[str]:
    """Names of landed files that are not extracts."""
    return [f.name for f in files if not f.recognised]


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


def destination(settings: Settings, landed: LandedFile, status: str) -> Path:
    """Where the file goes once its audit row commits: quarantine/ if rejected, else archive/."""
    if status == REJECTED:
        return _free_path(settings.quarantine_dir, landed.name)
    folder = settings.archive_dir / (landed.as_at.isoformat() if landed.as_at else "undated")
    return _free_path(folder, landed.name)


def move(src: Path, dest: Path) -> None:
    """Move a delivered file, making its folder if need be."""
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


def check_file(landed: LandedFile, extract: c.Extract, delivered: bytes) -> CheckedFile:
    """Check a recognised file as a whole, in the contract's order; raise FileRejected if not."""
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
    return CheckedFile(scan, names, extra)
