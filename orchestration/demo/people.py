"""The people under supervision: arrivals, turnover and what is recorded about them.

People arrive at a steady rate from two years before the window, each with an LDU, reoffending
band, offence, risk of serious harm, sentence, gender, ethnicity and date of birth, and at most
one change of LDU or band. One row per period of supervision, in CRN order, as the caseload files
list them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo.effects import Plan
from orchestration.demo.parameters import (
    BAND_SHARE,
    ETHNICITY_SHARE,
    GENDER_SHARE,
    OFFENCE_SHARE,
    ROSH_SHARE,
    ROSH_SHARE_HARM,
    SENTENCE_SHARE,
    TRAP_BAND_SHARE,
)
from orchestration.demo.reference import Reference
from orchestration.demo.vocabulary import BANDS, ETHNICITIES, GENDERS, NEVER, OFFENCES, SENTENCES
from orchestration.demo.window import Window


@dataclass
class People:
    """One row per period of supervision, sorted by CRN (the caseload files' order)."""

    crn: np.ndarray
    arrival: np.ndarray  # first day under supervision
    end: np.ndarray  # first day no longer under supervision
    ldu: np.ndarray
    band: np.ndarray
    change_day: np.ndarray  # the day the LDU or band changes (NEVER if neither does)
    ldu_after: np.ndarray
    band_after: np.ndarray
    offence: np.ndarray
    rosh: np.ndarray
    sentence: np.ndarray
    gender: np.ndarray
    ethnicity: np.ndarray
    birth: np.ndarray

    @property
    def size(self) -> int:
        """How many periods of supervision there are."""
        return int(self.crn.size)

    def active(self, day: int) -> np.ndarray:
        """Whether each person is under supervision on `day`."""
        return (self.arrival <= day) & (self.end > day)


def draw_people(
    rng: np.random.Generator, reference: Reference, window: Window, people: int, plan: Plan
) -> People:
    """Arrivals at a steady rate from two years before the window, so turnover is in balance.

    Supervision lasts 12 to 24 months for most people (6 to 12 for some), so new CRNs arrive
    every month and about `people` are under supervision on any day of the window.
    """
    mean_days = 0.85 * (365 + 730) / 2 + 0.15 * (183 + 364) / 2
    first, last = window.first_day - 760, window.last_day
    n = int(rng.poisson(people / mean_days * (last - first + 1)))
    crn = np.sort(rng.choice(25_000_000, size=n, replace=False))  # letters A-Y; Z is for bad rows
    arrival = rng.integers(first, last + 1, n)
    short = rng.random(n) < 0.15
    duration = np.where(short, rng.integers(183, 365, n), rng.integers(365, 731, n))
    ldu = rng.choice(len(reference.ldu_codes), size=n, p=plan.ldu_weight)
    band = rng.choice(len(BANDS), size=n, p=BAND_SHARE)
    trap = ldu == plan.trap_ldu
    band[trap] = rng.choice(len(BANDS), size=int(trap.sum()), p=TRAP_BAND_SHARE)
    offence = rng.choice(len(OFFENCES), size=n, p=OFFENCE_SHARE)
    harm = offence <= OFFENCES.index("SEXUAL_ONLINE")
    rosh = np.where(
        harm,
        rng.choice(len(BANDS), size=n, p=ROSH_SHARE_HARM),
        rng.choice(len(BANDS), size=n, p=ROSH_SHARE),
    )
    age_days = (18 + np.minimum(rng.gamma(2.2, 7.0, n), 55)) * 365.25
    young = rng.random(n) < 0.003
    age_days[young] = rng.uniform(16.1, 17.9, int(young.sum())) * 365.25

    # At most one change per person: a transfer to another LDU (3 %) or a new band (2 %). Band
    # changes are kept rare because docs/metrics.md strata use the latest snapshot's band while a
    # referral keeps the band it was made at; with many changes that difference alone biases
    # the case-mix trap's standardised ratio upwards by several per cent.
    roll = rng.random(n)
    can_change = duration > 200
    when = 150 + np.floor(rng.random(n) * np.maximum(duration - 180, 1)).astype(np.int64)
    change_day = np.where(can_change, arrival + when, NEVER)
    change_day = np.where(roll < 0.05, change_day, NEVER)
    transfer = (roll < 0.03) & (change_day < NEVER)
    other_ldu = (ldu + rng.integers(1, len(reference.ldu_codes), n)) % len(reference.ldu_codes)
    step = np.where(rng.random(n) < 0.5, -1, 1)
    band_after = np.where(transfer, band, np.clip(band + step, 0, len(BANDS) - 1))
    return People(
        crn=crn,
        arrival=arrival,
        end=arrival + duration,
        ldu=ldu,
        band=band,
        change_day=change_day,
        ldu_after=np.where(transfer, other_ldu, ldu),
        band_after=band_after,
        offence=offence,
        rosh=rosh,
        sentence=rng.choice(len(SENTENCES), size=n, p=SENTENCE_SHARE),
        gender=rng.choice(len(GENDERS), size=n, p=GENDER_SHARE),
        ethnicity=rng.choice(len(ETHNICITIES), size=n, p=ETHNICITY_SHARE),
        birth=arrival - age_days.astype(np.int64) - rng.integers(0, 365, n),
    )
