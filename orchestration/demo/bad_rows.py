"""Deliberately bad rows and valid rows with lower-case codes, and where they go.

docs/contract.md says what happens to what is not accepted; these rows exercise every reason code
the quarantine gives (one bad row per reason and column it names) and the acceptance of lower-case
codes. `plan_bad_rows` spreads them over the months and `apply_plants` puts them into a file's
lines, returning where each landed for the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from orchestration.demo.reference import Reference
from orchestration.demo.vocabulary import EXTRACT_COLUMNS
from orchestration.demo.window import Window


@dataclass(frozen=True)
class Spec:
    """One planted row: a bad row (reason code given) or a valid row with lower-case codes."""

    extract: str
    reason_code: str | None  # None for a lower-case row
    columns: tuple[str, ...]
    change: dict[str, str] = field(default_factory=dict)
    shape: str = ""  # "drop" or "extra" for a wrong number of fields; "copy" for a duplicate


# `{asat}`, `{asat+1}`... are filled with the file's as-at date (plus days); `{year}` its year.
_BAD_ROWS = (
    Spec("referrals", "WRONG_FIELD_COUNT", (), shape="drop"),
    Spec("referrals", "WRONG_FIELD_COUNT", (), shape="extra"),
    Spec("referrals", "MISSING_VALUE", ("crn",), {"crn": ""}),
    Spec("referrals", "MISSING_VALUE", ("status",), {"status": ""}),
    Spec("referrals", "INVALID_TYPE", ("referral_date",), {"referral_date": "{year}-13-45"}),
    Spec(
        "referrals", "INVALID_TYPE", ("last_updated_at",), {"last_updated_at": "{asat-20} 10:00:00"}
    ),
    Spec("referrals", "UNKNOWN_CODE", ("ldu_code",), {"ldu_code": "XX99"}),
    Spec("referrals", "UNKNOWN_CODE", ("status",), {"status": "PENDING"}),
    Spec("referrals", "INVALID_FORMAT", ("crn",), {"crn": "X12345"}),
    Spec("referrals", "INVALID_FORMAT", ("referral_id",), {"referral_id": "RF1234567"}),
    Spec(
        "referrals",
        "DATE_RULE",
        ("referral_date",),
        {"referral_date": "{asat+3}", "last_updated_at": "{asat}T10:00:00"},
    ),
    Spec(
        "referrals",
        "DATE_RULE",
        ("start_date",),
        {"status": "ON_PROGRAMME", "start_date": "{asat-25}"},
    ),
    Spec("referrals", "DATE_RULE", ("last_updated_at",), {"last_updated_at": "{asat+1}T09:00:00"}),
    Spec("referrals", "DUPLICATE_KEY", ("referral_id",), shape="copy"),
    Spec("completions", "WRONG_FIELD_COUNT", (), shape="drop"),
    Spec("completions", "MISSING_VALUE", ("outcome",), {"outcome": ""}),
    Spec("completions", "INVALID_TYPE", ("sessions_attended",), {"sessions_attended": "abc"}),
    Spec("completions", "INVALID_TYPE", ("end_date",), {"end_date": "{year}-02-30"}),
    Spec("completions", "UNKNOWN_CODE", ("outcome",), {"outcome": "FINISHED"}),
    Spec("completions", "UNKNOWN_CODE", ("intervention_code",), {"intervention_code": "XYZ"}),
    Spec("completions", "INVALID_FORMAT", ("referral_id",), {"referral_id": "RX12345678"}),
    Spec("completions", "DATE_RULE", ("end_date",), {"end_date": "{asat-63}"}),
    Spec("completions", "DATE_RULE", ("end_date",), {"end_date": "{asat+2}"}),
    Spec("completions", "DATE_RULE", ("recorded_at",), {"recorded_at": "{asat+1}T08:00:00"}),
    Spec("completions", "DUPLICATE_KEY", ("referral_id",), shape="copy"),
    Spec("caseload", "WRONG_FIELD_COUNT", (), shape="extra"),
    Spec("caseload", "MISSING_VALUE", ("date_of_birth",), {"date_of_birth": ""}),
    Spec("caseload", "INVALID_TYPE", ("date_of_birth",), {"date_of_birth": "31/01/1990"}),
    Spec("caseload", "UNKNOWN_CODE", ("ldu_code",), {"ldu_code": "XX99"}),
    Spec("caseload", "UNKNOWN_CODE", ("gender",), {"gender": "M"}),
    Spec("caseload", "INVALID_FORMAT", ("crn",), {"crn": "A12B456"}),
    Spec("caseload", "DATE_RULE", ("snapshot_date",), {"snapshot_date": "{asat-1}"}),
    Spec("caseload", "DUPLICATE_KEY", ("snapshot_date", "crn"), shape="copy"),
)
_LOWERCASE_ROWS = (
    Spec("referrals", None, ("ldu_code",)),
    Spec("referrals", None, ("status",)),
    Spec("referrals", None, ("referral_id", "crn")),
    Spec("referrals", None, ("intervention_code", "reoffending_band")),
    Spec("completions", None, ("outcome",)),
    Spec("completions", None, ("intervention_code", "crn")),
    Spec("caseload", None, ("gender", "ethnicity_group")),
    Spec("caseload", None, ("ldu_code", "crn")),
    Spec("caseload", None, ("offence_category", "sentence_type")),
)


def _valid_template(extract: str, reference: Reference, asat: str, serial: int) -> dict[str, str]:
    """A valid row with identifiers no real row uses, for a bad row to break in one way only."""
    tsp = reference.intervention("TSP")
    if extract == "caseload":
        return dict(
            snapshot_date=asat,
            crn=f"Z{serial:06d}",
            ldu_code=reference.ldu_codes[0],
            sentence_type="COMMUNITY_ORDER",
            reoffending_band="MEDIUM",
            rosh_level="LOW",
            offence_category="OTHER",
            gender="MALE",
            ethnicity_group="WHITE",
            date_of_birth="1990-01-01",
        )
    shifted = _shift(asat, -20)
    if extract == "referrals":
        return dict(
            referral_id=f"RF{99_000_000 + serial:08d}",
            crn=f"Z{serial:06d}",
            ldu_code=reference.ldu_codes[0],
            intervention_code="TSP",
            referral_date=shifted,
            reoffending_band="MEDIUM",
            rosh_level="LOW",
            offence_category="VIOLENCE",
            status="AWAITING_ASSESSMENT",
            status_reason="",
            start_date="",
            last_updated_at=f"{shifted}T10:00:00",
        )
    required = str(int(reference.sessions_required[tsp]))
    return dict(
        referral_id=f"RF{99_000_000 + serial:08d}",
        crn=f"Z{serial:06d}",
        intervention_code="TSP",
        start_date=_shift(asat, -60),
        end_date=_shift(asat, -5),
        outcome="COMPLETED",
        outcome_reason="",
        sessions_attended=required,
        sessions_required=required,
        recorded_at=f"{_shift(asat, -2)}T11:00:00",
    )


def _shift(iso_date: str, days: int) -> str:
    return str(np.datetime64(iso_date, "D") + days)


def _fill(template: str, asat: str) -> str:
    """Expand `{asat}`, `{asat+N}`, `{asat-N}` and `{year}` in a bad row's planted value."""
    out = template.replace("{year}", asat[:4])
    while "{asat" in out:
        begin = out.index("{asat")
        close = out.index("}", begin)
        offset = out[begin + 5 : close]
        out = out[:begin] + _shift(asat, int(offset or 0)) + out[close + 1 :]
    return out


def _bad_line(spec: Spec, reference: Reference, asat: str, serial: int) -> bytes:
    row = _valid_template(spec.extract, reference, asat, serial)
    for column, value in spec.change.items():
        row[column] = _fill(value, asat)
    values = [row[c] for c in EXTRACT_COLUMNS[spec.extract]]
    if spec.shape == "drop":
        values = values[:-1]
    elif spec.shape == "extra":
        values.append("EXTRA")
    return ",".join(values).encode()


def plan_bad_rows(
    rng: np.random.Generator, window: Window, row_counts: dict[str, np.ndarray]
) -> dict[tuple[str, int], list[Spec]]:
    """Spread the bad rows and lower-case rows over random months' files.

    A duplicate or a lower-case row needs real rows to copy or change, so those move on to the
    next month whose file has enough of them.
    """
    planned: dict[tuple[str, int], list[Spec]] = {}
    for spec in (*_BAD_ROWS, *_LOWERCASE_ROWS):
        month = int(rng.integers(0, window.months))
        needs_rows = spec.reason_code is None or spec.shape == "copy"
        if needs_rows:
            for step in range(window.months):
                candidate = (month + step) % window.months
                if row_counts[spec.extract][candidate] >= 12:
                    month = candidate
                    break
            else:
                continue
        planned.setdefault((spec.extract, month), []).append(spec)
    return planned


def apply_plants(
    rng: np.random.Generator,
    lines: list[bytes],
    specs: list[Spec],
    reference: Reference,
    asat: str,
    serial: int,
) -> tuple[list[bytes], list[tuple[int, Spec]]]:
    """Change or insert the planted rows; return the lines and each plant's 0-based position.

    Lower-case rows and the originals of duplicates are distinct real rows; a duplicate is
    inserted after its original so that the original is the one that loads.
    """
    columns = EXTRACT_COLUMNS[specs[0].extract]
    tags: list[Spec | None] = [None] * len(lines)
    lower = [s for s in specs if s.reason_code is None]
    copies = [s for s in specs if s.shape == "copy"]
    chosen = rng.choice(len(lines), size=len(lower) + len(copies), replace=False)
    for spec, position in zip(lower, chosen[: len(lower)], strict=True):
        fields = lines[position].split(b",")
        for column in spec.columns:
            index = columns.index(column)
            fields[index] = fields[index].lower()
        lines[position] = b",".join(fields)
        tags[position] = spec
    for spec, source in zip(copies, chosen[len(lower) :], strict=True):
        target = int(rng.integers(source + 1, len(lines) + 1))
        lines.insert(target, lines[source])
        tags.insert(target, spec)
    for offset, spec in enumerate(s for s in specs if s.reason_code and s.shape != "copy"):
        target = int(rng.integers(0, len(lines) + 1))
        lines.insert(target, _bad_line(spec, reference, asat, serial + offset))
        tags.insert(target, spec)
    return lines, [(i, t) for i, t in enumerate(tags) if t is not None]
