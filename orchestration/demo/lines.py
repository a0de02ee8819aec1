"""The extracts' CSV lines, built column-wise with numpy's string functions.

Every caseload, referral and completion line is assembled as bytes in whole arrays rather than
with a CSV writer, which is what makes a national window quick to write. Completion lines carry
the planted completion-level recording problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo.deliveries import Completions, Versions
from orchestration.demo.life_cycles import LifeCycle
from orchestration.demo.people import People
from orchestration.demo.recording_problems import Plants
from orchestration.demo.reference import Reference
from orchestration.demo.referrals import Referrals
from orchestration.demo.vocabulary import (
    BANDS,
    ETHNICITIES,
    GENDERS,
    OFFENCES,
    OUTCOME,
    OUTCOMES,
    REASONS,
    SENTENCES,
    STATUSES,
)


@dataclass
class Lines:
    """Every delivered line of the three extracts, without headers or planted rows."""

    caseload: tuple[np.ndarray, np.ndarray]  # every person's line before and after a change
    referrals: np.ndarray
    completions: np.ndarray


def _codes(names: tuple[str, ...], index: np.ndarray) -> np.ndarray:
    return np.array(names, dtype="S")[index]


def _dates(days: np.ndarray, empty: np.ndarray | None = None) -> np.ndarray:
    text = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype("S10")
    return text if empty is None else np.where(empty, b"", text)


def _timestamps(days: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    instants = (days * 86400 + seconds).astype("datetime64[s]")
    return np.datetime_as_string(instants, unit="s").astype("S19")


def _crns(numbers: np.ndarray) -> np.ndarray:
    letters = np.array([chr(65 + i) for i in range(26)], dtype="S1")
    digits = (numbers % 1_000_000 + 1_000_000).astype("S7").view("S1").reshape(-1, 7)[:, 1:]
    return np.strings.add(letters[numbers // 1_000_000], digits.copy().view("S6").ravel())


def _referral_ids(numbers: np.ndarray) -> np.ndarray:
    return np.strings.add(b"RF", numbers.astype("S8"))


def _join(columns: list[np.ndarray]) -> np.ndarray:
    line = columns[0]
    for column in columns[1:]:
        line = np.strings.add(np.strings.add(line, b","), column)
    return line


def caseload_lines(reference: Reference, population: People) -> tuple[np.ndarray, np.ndarray]:
    """Every person's caseload line without the snapshot date, before and after their change."""
    shared = [
        _codes(SENTENCES, population.sentence),
    ]
    tail = [
        _codes(BANDS, population.rosh),
        _codes(OFFENCES, population.offence),
        _codes(GENDERS, population.gender),
        _codes(ETHNICITIES, population.ethnicity),
        _dates(population.birth),
    ]
    crn = _crns(population.crn)
    before = _join(
        [
            crn,
            _codes(reference.ldu_codes, population.ldu),
            *shared,
            _codes(BANDS, population.band),
            *tail,
        ]
    )
    after = _join(
        [
            crn,
            _codes(reference.ldu_codes, population.ldu_after),
            *shared,
            _codes(BANDS, population.band_after),
            *tail,
        ]
    )
    return before, after


def referral_lines(
    reference: Reference,
    population: People,
    referrals: Referrals,
    life: LifeCycle,
    versions: Versions,
) -> np.ndarray:
    """Every delivered referral version's line; a start date once the referral has started."""
    r, k = versions.referral, versions.event
    person = referrals.person[r]
    has_start = (k >= 3) & life.started[r]
    return _join(
        [
            _referral_ids(referrals.referral_id[r]),
            _crns(population.crn[person]),
            _codes(reference.ldu_codes, referrals.ldu[r]),
            _codes(reference.intervention_codes, referrals.intervention[r]),
            _dates(referrals.referral_date[r]),
            _codes(BANDS, population.band[person]),
            _codes(BANDS, population.rosh[person]),
            _codes(OFFENCES, population.offence[person]),
            _codes(STATUSES, life.status[r, k]),
            _codes(REASONS, life.reason[r, k]),
            _dates(np.where(has_start, life.start[r], 0), empty=~has_start),
            _timestamps(life.day[r, k], life.seconds[r, k]),
        ]
    )


def completion_lines(
    reference: Reference,
    population: People,
    referrals: Referrals,
    life: LifeCycle,
    plants: Plants,
    completions: Completions,
) -> np.ndarray:
    """Every delivered completion row's line, with the planted completion-level problems."""
    r, second = completions.referral, completions.restatement
    intervention = plants.mismatch_intervention[r]
    required = reference.sessions_required[intervention]
    outcome = np.where(second, life.outcome2[r], life.outcome[r])
    attended = np.where(second, life.attended2[r], life.attended[r])
    mismatched = intervention != referrals.intervention[r]
    attended = np.where(mismatched & (outcome == OUTCOME["COMPLETED"]), required, attended)
    attended = np.where(
        mismatched & (outcome != OUTCOME["COMPLETED"]), np.minimum(attended, required - 1), attended
    )
    recorded = np.where(second, life.recorded2[r], life.recorded[r])
    return _join(
        [
            _referral_ids(referrals.referral_id[r]),
            _crns(population.crn[referrals.person[r]]),
            _codes(reference.intervention_codes, intervention),
            _dates(plants.early_start[r]),
            _dates(np.where(second, life.end2[r], life.end[r])),
            _codes(OUTCOMES, outcome),
            _codes(REASONS, np.where(second, life.outcome_reason2[r], life.outcome_reason[r])),
            attended.astype("S"),
            required.astype("S"),
            _timestamps(recorded, life.recorded_seconds[r, second.astype(np.int64)]),
        ]
    )
