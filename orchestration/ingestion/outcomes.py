"""What the loader did with each landed file: the statuses of audit.loads and a pass's summary.

A file is LOADED (its valid rows in raw, the others quarantined), REJECTED whole, a DUPLICATE of
bytes already loaded, or an UNRECOGNISED_FILE name left in the landing folder. ``FileOutcome`` is
one file's row of audit.loads (or the finished move of one an interrupted run committed), and
``IngestSummary`` one pass over the landing folder, which the ingestion assets report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LOADED, REJECTED, DUPLICATE, UNRECOGNISED = "LOADED", "REJECTED", "DUPLICATE", "UNRECOGNISED_FILE"


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
