"""What the consistency flags and the recording checks found, in words a reviewer can act on.

The Dagster asset checks on `consistency_flags` and `data_quality_issues` report these findings
as metadata; they live here, as plain functions over a DuckDB connection, so that the asset
checks stay glue and the summaries can be tested on small explicit tables. Both read the build
schemas by default (`reporting_build`, `marts_build`): the checks run right after `dbt build`, on
the tables about to be published. Which consistency findings are current is not decided here:
the dbt model `current_findings` is that rule's one home.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Flag:
    """One LDU out of line with the division for one intervention, measure and period."""

    period_type: str
    period: str
    is_partial: bool
    intervention_code: str
    measure: str
    ldu_code: str
    level: str
    direction: str
    value: float
    division_value: float
    lower_998: float
    upper_998: float
    level_adjusted: str


@dataclass(frozen=True)
class FlagFindings:
    """The ALARM and ALERT rows of the latest financial YEAR and QUARTER."""

    periods: tuple[tuple[str, str, bool], ...]  # (period_type, period, is_partial)
    flags: tuple[Flag, ...]

    def count(self, level: str) -> int:
        """How many rows are at `level`."""
        return sum(flag.level == level for flag in self.flags)

    @property
    def has_findings(self) -> bool:
        """True when any LDU is at ALARM or ALERT in the latest periods."""
        return bool(self.flags)

    def listing(self) -> list[str]:
        """One line per flag, e.g. `2025-26 ALARM LOW WM04 TSP TIMELY_START_RATE`."""
        return [
            f"{f.period} {f.level} {f.direction} {f.ldu_code} {f.intervention_code} {f.measure}"
            for f in self.flags
        ]

    def markdown(self) -> str:
        """A table of the flags, ALARM first, for the Dagster UI."""
        periods = ", ".join(
            f"{label}{' (so far)' if partial else ''}" for _, label, partial in self.periods
        )
        if not self.flags:
            return f"No LDU is at ALARM or ALERT in {periods or 'any period'}."
        lines = [
            f"LDUs out of line with the division in {periods}: {self.count('ALARM')} at ALARM "
            f"(outside 99.8 % limits), {self.count('ALERT')} at ALERT (outside 95 % only).",
            "",
            "| period | level | direction | LDU | intervention | measure | value | division "
            "| 99.8 % limits | allowing for φ |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for f in self.flags:
            lines.append(
                f"| {f.period} | {f.level} | {f.direction} | {f.ldu_code} | "
                f"{f.intervention_code} | {f.measure} | {_number(f.value)} | "
                f"{_number(f.division_value)} | {_number(f.lower_998)} – {_number(f.upper_998)} "
                f"| {f.level_adjusted} |"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class CheckCount:
    """What one recording check found, over all months and in the reported months."""

    check_code: str
    records: int
    ldus: int
    first_month: str
    last_month: str
    records_in_reported_months: int


@dataclass(frozen=True)
class RecordingFindings:
    """The recording checks that fired, with their counts (checks that found nothing omitted)."""

    reported_months: tuple[str, str] | None  # first and last reported month, if any
    checks: tuple[CheckCount, ...]

    @property
    def has_findings(self) -> bool:
        """True when any recording check found a record."""
        return bool(self.checks)

    def records_by_check(self) -> dict[str, int]:
        """Records per check code, over all months."""
        return {c.check_code: c.records for c in self.checks}

    def markdown(self) -> str:
        """A table of the checks that fired, for the Dagster UI."""
        if not self.checks:
            return "No recording check found anything."
        window = (
            f"{self.reported_months[0]} to {self.reported_months[1]}"
            if self.reported_months
            else "the reported months"
        )
        lines = [
            f"{len(self.checks)} recording checks found {sum(c.records for c in self.checks)} "
            f"records ({sum(c.records_in_reported_months for c in self.checks)} dated in "
            f"{window}). Warnings: no record is dropped from any measure.",
            "",
            "| check | records | in reported months | LDUs | months |",
            "|---|---|---|---|---|",
        ]
        for c in self.checks:
            lines.append(
                f"| {c.check_code} | {c.records} | {c.records_in_reported_months} | {c.ldus} | "
                f"{c.first_month} – {c.last_month} |"
            )
        return "\n".join(lines)


def _number(value: float | None) -> str:
    """Three decimals, or a dash for a missing value."""
    return "–" if value is None else f"{value:.3f}"


def _checked_schema(schema: str) -> str:
    """Return `schema` if it is a plain identifier: it is put into SQL text, not bound."""
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"not a schema name: {schema!r}")
    return schema


def consistency_findings(
    con: duckdb.DuckDBPyConnection, schema: str = "reporting_build"
) -> FlagFindings:
    """Read the current findings: which rows are current is decided in dbt, not here.

    `current_findings` (a dbt reporting model, one home for the rule) holds the ALARM and ALERT
    rows of `current_periods`' YEAR and QUARTER, the latest of each, partial or not. Flags are
    ordered ALARM first, then by period type (YEAR first), intervention, measure and LDU.
    """
    schema = _checked_schema(schema)
    periods = con.execute(
        f"""
        select period_type, period, is_partial
        from {schema}.current_periods
        where period_type in ('YEAR', 'QUARTER')
        order by case period_type when 'YEAR' then 0 else 1 end
        """
    ).fetchall()
    rows = con.execute(
        f"""
        select
            period_type, period, is_partial, intervention_code, measure, ldu_code, level,
            direction, value, division_value, lower_998, upper_998, level_adjusted
        from {schema}.current_findings
        order by
            case level when 'ALARM' then 0 else 1 end,
            case period_type when 'YEAR' then 0 else 1 end,
            intervention_code, measure, ldu_code
        """
    ).fetchall()
    return FlagFindings(
        periods=tuple((t, p, bool(partial)) for t, p, partial in periods),
        flags=tuple(Flag(*row) for row in rows),
    )


def recording_findings(
    con: duckdb.DuckDBPyConnection, schema: str = "marts_build"
) -> RecordingFindings:
    """Count each recording check's records, LDUs and months, and those in the reported months.

    The reported months are the MONTH periods of `periods` (earliest caseload snapshot to the
    reporting month). Records dated before them are still counted: a check is reported on the
    month of its date, and some (NOT_ON_CASELOAD for referrals made before the first snapshot)
    can only be judged against snapshots that were never loaded.
    """
    schema = _checked_schema(schema)
    window = con.execute(
        f"select min(period), max(period) from {schema}.periods where period_type = 'MONTH'"
    ).fetchone()
    first, last = window if window and window[0] is not None else (None, None)
    rows = con.execute(
        f"""
        select
            check_code,
            sum(record_count),
            count(distinct ldu_code),
            min(period),
            max(period),
            coalesce(sum(case when period between ? and ? then record_count end), 0)
        from {schema}.data_quality_issues
        group by check_code
        order by check_code
        """,
        [first, last],
    ).fetchall()
    return RecordingFindings(
        reported_months=(first, last) if first is not None else None,
        checks=tuple(
            CheckCount(code, int(n), int(ldus), lo, hi, int(inside))
            for code, n, ldus, lo, hi, inside in rows
        ),
    )
