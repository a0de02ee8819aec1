"""Referrals of newly supervised people to the interventions they are eligible for.

The referral propensity rises with the reoffending band and carries the plan's LDU effects, and
about 1 % of referrals are of ineligible people, for the data-quality checks to find. Their life
cycles are drawn in `life_cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo.effects import Plan
from orchestration.demo.parameters import (
    DEFAULT_REFERRAL_PROBABILITY,
    INELIGIBLE_SHARE,
    REFERRAL_PROBABILITY,
)
from orchestration.demo.people import People
from orchestration.demo.reference import Reference
from orchestration.demo.vocabulary import GENDERS
from orchestration.demo.window import Window


@dataclass
class Referrals:
    """One row per referral: who, where, what, when, and the person's state at referral."""

    referral_id: np.ndarray
    person: np.ndarray
    intervention: np.ndarray
    ldu: np.ndarray
    referral_date: np.ndarray
    ineligible: np.ndarray

    @property
    def size(self) -> int:
        """How many referrals were drawn."""
        return int(self.person.size)


def draw_referrals(
    rng: np.random.Generator,
    reference: Reference,
    population: People,
    window: Window,
    plan: Plan,
) -> Referrals:
    """Refer newly supervised people to the interventions they are eligible for.

    Only eligible people are referred (MALE-only interventions only for men), with a propensity
    that rises with the reoffending band, apart from about 1 % of ineligible referrals that the
    data-quality checks must find. Referrals are made in the first months of supervision, before
    any change of LDU or band, so a referral's band and LDU are the person's at the time.
    """
    n_int = len(reference.intervention_codes)
    male = population.gender == GENDERS.index("MALE")
    persons, interventions = [], []
    for j, code in enumerate(reference.intervention_codes):
        propensity = np.array(REFERRAL_PROBABILITY.get(code, DEFAULT_REFERRAL_PROBABILITY))
        eligible = reference.eligible[j, population.offence, population.band]
        eligible &= male | ~reference.male_only[j]
        p = propensity[population.band] * plan.referral[population.ldu, j]
        hit = np.flatnonzero(eligible & (rng.random(population.size) < p))
        persons.append(hit)
        interventions.append(np.full(hit.size, j))
    n_eligible = sum(part.size for part in persons)
    n_ineligible = int(round(INELIGIBLE_SHARE * n_eligible))
    candidate = rng.integers(0, population.size, 4 * n_ineligible + 100)
    candidate_j = rng.integers(0, n_int, candidate.size)
    wrong = ~reference.eligible[
        candidate_j, population.offence[candidate], population.band[candidate]
    ]
    wrong &= male[candidate] | ~reference.male_only[candidate_j]
    keep = np.flatnonzero(wrong)[:n_ineligible]
    persons.append(candidate[keep])
    interventions.append(candidate_j[keep])

    person = np.concatenate(persons)
    intervention = np.concatenate(interventions)
    ineligible = np.zeros(person.size, dtype=bool)
    ineligible[n_eligible:] = True
    delay = 2 + np.floor(rng.exponential(28.0, person.size)).astype(np.int64)
    cap = np.minimum(120, population.end[person] - population.arrival[person] - 60)
    referral_date = population.arrival[person] + np.minimum(delay, cap)
    valid = referral_date <= window.last_day
    valid &= referral_date >= reference.valid_from[intervention]
    valid &= referral_date <= reference.valid_to[intervention]

    order = np.lexsort((intervention[valid], person[valid], referral_date[valid]))
    person, intervention = person[valid][order], intervention[valid][order]
    referral_date, ineligible = referral_date[valid][order], ineligible[valid][order]
    base = 10_000_000 + int(rng.integers(0, 5_000_000))
    return Referrals(
        referral_id=base + np.arange(person.size, dtype=np.int64),
        person=person,
        intervention=intervention,
        ldu=population.ldu[person].copy(),
        referral_date=referral_date,
        ineligible=ineligible,
    )
