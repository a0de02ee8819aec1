"""The reference seeds the generator draws from, read into arrays.

`load_reference` reads the LDUs, the interventions and their eligibility from the seed CSVs
(the repository's `seeds/` unless told otherwise) into a `Reference` whose tuples and arrays are
indexed by position, because every draw is vectorised.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestration.demo.vocabulary import BANDS, DAY0, NEVER, OFFENCES


@dataclass(frozen=True)
class Reference:
    """The seeds, as arrays indexed by position, because every draw below is vectorised."""

    ldu_codes: tuple[str, ...]
    intervention_codes: tuple[str, ...]
    intervention_types: tuple[str, ...]
    sessions_required: np.ndarray
    max_days_to_start: np.ndarray
    male_only: np.ndarray
    valid_from: np.ndarray
    valid_to: np.ndarray
    eligible: np.ndarray  # bool [intervention, offence, band]

    def intervention(self, code: str) -> int:
        """Position of an intervention code, with an error that says which seed lacks it."""
        if code not in self.intervention_codes:
            raise ValueError(f"interventions.csv has no {code}; the planted anomalies need it")
        return self.intervention_codes.index(code)


def load_reference(seeds_dir: Path) -> Reference:
    """Read the three reference seeds the generator needs.

    Args:
        seeds_dir: Folder holding `ldus.csv`, `interventions.csv`, `intervention_eligibility.csv`.

    Returns:
        The reference lists as arrays.
    """
    ldus = _read_seed(seeds_dir / "ldus.csv")
    interventions = _read_seed(seeds_dir / "interventions.csv")
    eligibility = _read_seed(seeds_dir / "intervention_eligibility.csv")
    codes = tuple(row["intervention_code"].strip().upper() for row in interventions)
    eligible = np.zeros((len(codes), len(OFFENCES), len(BANDS)), dtype=bool)
    for row in eligibility:
        code = row["intervention_code"].strip().upper()
        offence = row["offence_category"].strip().upper()
        band = row["reoffending_band"].strip().upper()
        if code in codes and offence in OFFENCES and band in BANDS:
            eligible[codes.index(code), OFFENCES.index(offence), BANDS.index(band)] = True
    return Reference(
        ldu_codes=tuple(row["ldu_code"].strip().upper() for row in ldus),
        intervention_codes=codes,
        intervention_types=tuple(row["intervention_type"].strip().upper() for row in interventions),
        sessions_required=np.array([int(r["sessions_required"]) for r in interventions]),
        max_days_to_start=np.array([int(r["max_days_to_start"]) for r in interventions]),
        male_only=np.array([r["eligible_gender"].strip().upper() == "MALE" for r in interventions]),
        valid_from=np.array([_day(r["valid_from"], 0) for r in interventions]),
        valid_to=np.array([_day(r["valid_to"], NEVER) for r in interventions]),
        eligible=eligible,
    )


def _read_seed(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"reference seed {path} is missing; pass seeds_dir= to generate")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _day(text: str | None, default: int) -> int:
    text = (text or "").strip()
    return int((np.datetime64(text, "D") - DAY0).astype(int)) if text else default
