"""Is the caseload current? Month-end snapshots arrive monthly; a gap means a missed delivery."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

#: A month-end snapshot is due every month; allow a few days for delivery.
MAX_DAYS_WITHOUT_CASELOAD = 35


@dataclass(frozen=True)
class CaseloadFreshness:
    """When the last caseload snapshot arrived, and whether that is too long ago."""

    last_arrival: dt.datetime | None
    last_snapshot_date: dt.date | None
    days_since_arrival: float | None
    is_fresh: bool

    def describe(self) -> str:
        """One line for the check's description and the run log."""
        if self.last_arrival is None:
            return "no caseload snapshot has ever been loaded"
        state = "fresh" if self.is_fresh else "STALE"
        return (
            f"{state}: the last caseload snapshot ({self.last_snapshot_date}) arrived "
            f"{self.days_since_arrival:.0f} days ago (limit {MAX_DAYS_WITHOUT_CASELOAD})"
        )


def caseload_freshness(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> CaseloadFreshness:
    """Judge by arrival (audit.loads), not by the snapshot's date, so a late delivery counts."""
    arrival, snapshot = con.execute(
        """
        select max(loaded_at), max(as_at_date) from audit.loads
        where extract = 'caseload' and status = 'LOADED'
        """
    ).fetchone()
    if arrival is None:
        return CaseloadFreshness(None, None, None, False)
    days = (now.replace(tzinfo=None) - arrival).total_seconds() / 86400
    return CaseloadFreshness(arrival, snapshot, days, days <= MAX_DAYS_WITHOUT_CASELOAD)
