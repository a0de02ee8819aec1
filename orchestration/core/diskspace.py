"""Enough disk for a refresh: checked before it starts, said in one line when it runs out.

A disk that filled up during dbt used to end in three Python tracebacks (DuckDB's "No space
left on device", then Dagster's own SQLite "disk I/O error") and exit 1. Nothing was lost, but
nothing said what to do. A refresh now checks the free space first, by the rule below, and a
refresh that still runs out says so in one line.

The rule (measured on the demo's worlds; see docs/operations.md): a refresh needs free space on
the warehouse's disk for
- the warehouse once more (dbt rebuilds the build schemas beside the published ones, and
  publishing copies them; DuckDB frees the old blocks only at its next checkpoint),
- LANDING_FACTOR times the landing folder (the raw tables, the quarantine and DuckDB's
  write-ahead log while a file loads, and the delivery's move to the archive),
- and MARGIN for Dagster's run log, dbt's logs and DuckDB's temporary files;
- plus the warehouse again when it builds the report, which reads a copy.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from orchestration.core.settings import Settings

MB = 1024 * 1024
LANDING_FACTOR = 10
MARGIN = 100 * MB
#: what the messages of a full disk look like, from Python, DuckDB and SQLite
_FULL = ("no space left on device", "disk is full", "disk i/o error", "errno 28",
         "not enough space")


class DiskFull(RuntimeError):
    """The disk holding ICW_HOME has too little free space for a refresh."""


@dataclass(frozen=True)
class SpaceNeeded:
    """The free space a refresh needs on the warehouse's disk, and what it is made of."""

    warehouse: int
    landing: int
    report: bool

    @property
    def total(self) -> int:
        """Bytes needed free."""
        return (self.warehouse * (2 if self.report else 1) + LANDING_FACTOR * self.landing
                + MARGIN)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def space_needed(settings: Settings, report: bool, load: bool = True) -> SpaceNeeded:
    """The rule of the module docstring, for this warehouse and landing folder.

    load is false for `icw report`, which reads no landed file.
    """
    warehouse = sum(_size(p) for p in (settings.warehouse,
                                       settings.warehouse.with_name(settings.warehouse.name
                                                                    + ".wal")))
    landing = sum(_size(p) for p in settings.landing_dir.iterdir() if p.is_file()) \
        if load and settings.landing_dir.is_dir() else 0
    return SpaceNeeded(warehouse, landing, report)


def free_space(path: Path) -> int:
    """Bytes free to an unprivileged writer on the disk holding path (or its nearest parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def _mb(n: int) -> str:
    return f"{n / MB:,.0f} MB"


def full_message(settings: Settings, needed: SpaceNeeded, ran_out: bool) -> str:
    """One line: which disk, how much a refresh needs, how much is free, what is unchanged."""
    free = free_space(settings.warehouse.parent)
    what = "ran out of disk space" if ran_out else "was not started"
    return (
        f"the refresh {what}: the disk holding ICW_HOME ({settings.home}) has "
        f"{_mb(free)} free and a refresh needs about {_mb(needed.total)} (the warehouse, "
        f"{_mb(needed.warehouse)}, {'twice' if needed.report else 'once'}, "
        f"{LANDING_FACTOR} times the landing folder, {_mb(needed.landing)}, and "
        f"{_mb(MARGIN)}). The published marts and report are unchanged; free some space "
        "and run it again"
    )


def check_free_space(settings: Settings, report: bool, load: bool = True) -> SpaceNeeded:
    """Raise DiskFull before a refresh starts when the rule says it would run out."""
    needed = space_needed(settings, report, load)
    if free_space(settings.warehouse.parent) < needed.total:
        raise DiskFull(full_message(settings, needed, ran_out=False))
    return needed


def is_disk_full(error: BaseException | str) -> bool:
    """True when an exception (or its causes) or a failure message says the disk was full."""
    seen = 0
    while isinstance(error, BaseException) and seen < 10:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(mark in str(error).lower() for mark in _FULL):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return isinstance(error, str) and any(mark in error.lower() for mark in _FULL)
