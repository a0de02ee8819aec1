"""Recording problems planted on referrals (docs/metrics.md data_quality_issues).

A small share of started referrals each gets one problem (an orphan completion, a late referral,
a stale status, too many sessions, a start before the referral, an intervention mismatch, a
restated ending), and a few more get a missing status reason or a wrong LDU, so that every
data-quality check has known cases to find. The plants change the life cycles in place and are
carried into the delivered rows by `deliveries` and `lines`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo.life_cycles import LifeCycle, referral_ending
from orchestration.demo.people import People
from orchestration.demo.reference import Reference
from orchestration.demo.referrals import Referrals
from orchestration.demo.vocabulary import NEVER, OUTCOME, REASON
from orchestration.demo.window import Window

# Referral-level recording problems (shares of started referrals, mutually exclusive).
_PLANT_SHARES = (
    ("ORPHAN_COMPLETION", 0.003),
    ("LATE_REFERRAL", 0.003),
    ("STALE_STATUS", 0.010),
    ("SESSIONS_OVER_REQUIRED", 0.004),
    ("START_BEFORE_REFERRAL", 0.002),
    ("INTERVENTION_MISMATCH", 0.003),
    ("RESTATED", 0.015),
)
_MISSING_REASON_SHARE = 0.01
_WRONG_LDU_SHARE = 0.0015


@dataclass
class Plants:
    """Which referrals carry which recording problem; the ground truth counts what was sent."""

    kind: dict[str, np.ndarray]  # bool per referral
    late_month: np.ndarray  # first delivery month of a late referral (-1 if not late)
    mismatch_intervention: np.ndarray
    early_start: np.ndarray  # completion start_date planted before the referral date


def plant_recording_problems(
    rng: np.random.Generator,
    reference: Reference,
    population: People,
    referrals: Referrals,
    life: LifeCycle,
    window: Window,
) -> Plants:
    """Mark a small share of started referrals with one recording problem each.

    The problems are mutually exclusive so that each shows up as exactly one data-quality
    check, and restatements are kept apart from the completion-level problems so that the
    current completion row is the one that carries the problem.
    """
    n = referrals.size
    roll = rng.random(n)
    kind: dict[str, np.ndarray] = {}
    low = 0.0
    for name, share in _PLANT_SHARES:
        kind[name] = life.started & (roll >= low) & (roll < low + share)
        low += share
    kind["SESSIONS_OVER_REQUIRED"] &= life.outcome == OUTCOME["COMPLETED"]

    # A late referral is first delivered one or two months after its completion was recorded.
    completion_month = window.month_of(np.minimum(life.recorded, window.last_day + 400))
    late_month = completion_month + rng.integers(1, 3, n)
    kind["LATE_REFERRAL"] &= (completion_month >= 0) & (late_month < window.months)
    late_month = np.where(kind["LATE_REFERRAL"], late_month, -1)

    # Stale: the case-management system never records the ending (half never even the start).
    stale = kind["STALE_STATUS"]
    drop_start = stale & (rng.random(n) < 0.5)
    life.day[stale, 4:] = NEVER
    life.day[drop_start, 3] = NEVER

    # Restatement: the delivery system corrects the ending a month or more later.
    restated = kind["RESTATED"] & (life.outcome != OUTCOME["TRANSFERRED"])
    restated &= life.outcome != OUTCOME["DECEASED"]
    restated &= life.outcome != OUTCOME["SENTENCE_EXPIRED"]
    _restate(rng, reference, referrals, life, restated)
    kind["RESTATED"] = restated

    required = reference.sessions_required[referrals.intervention]
    over = kind["SESSIONS_OVER_REQUIRED"]
    life.attended[over] = required[over] + rng.integers(1, 4, int(over.sum()))
    early = kind["START_BEFORE_REFERRAL"]
    early_start = np.where(early, referrals.referral_date - rng.integers(1, 21, n), life.start)
    mismatch = referrals.intervention + rng.integers(1, len(reference.intervention_codes), n)
    mismatch %= len(reference.intervention_codes)
    mismatch = np.where(kind["INTERVENTION_MISMATCH"], mismatch, referrals.intervention)

    # A missing status_reason on NOT_SUITABLE, DESELECTED and WITHDRAWN referrals.
    missing = rng.random(n) < _MISSING_REASON_SHARE
    life.reason[missing, :] = 0
    kind["MISSING_REASON"] = missing

    # A referral recorded against an LDU that never had the person (NOT_ON_CASELOAD).
    wrong = (rng.random(n) < _WRONG_LDU_SHARE) & (referrals.referral_date >= window.first_day + 31)
    wrong &= ~kind["ORPHAN_COMPLETION"] & ~kind["LATE_REFERRAL"]
    person = referrals.person
    n_ldu = len(reference.ldu_codes)
    other = (population.ldu[person] + rng.integers(1, n_ldu, n)) % n_ldu
    wrong &= other != population.ldu_after[person]
    referrals.ldu = np.where(wrong, other, referrals.ldu)
    kind["WRONG_LDU"] = wrong
    kind["INELIGIBLE_REFERRAL"] = referrals.ineligible.copy()
    return Plants(kind, late_month, mismatch, early_start)


def _restate(
    rng: np.random.Generator,
    reference: Reference,
    referrals: Referrals,
    life: LifeCycle,
    restated: np.ndarray,
) -> None:
    """A completed ending restated as DESELECTED earlier, or a non-completion as COMPLETED."""
    n = referrals.size
    required = reference.sessions_required[referrals.intervention]
    was_done = life.outcome == OUTCOME["COMPLETED"]
    shorter = life.start + np.floor((life.end - life.start) * rng.uniform(0.5, 0.95, n))
    life.restated = restated
    life.outcome2 = np.where(
        restated, np.where(was_done, OUTCOME["DESELECTED"], OUTCOME["COMPLETED"]), life.outcome
    )
    life.end2 = np.where(
        restated,
        np.where(was_done, shorter.astype(np.int64), life.end + rng.integers(0, 8, n)),
        life.end,
    )
    life.outcome_reason2 = np.where(
        restated, np.where(was_done, REASON["D_MISSED_SESSIONS"], 0), life.outcome_reason
    )
    fewer = np.maximum(0, required - 1 - rng.integers(0, 3, n))
    life.attended2 = np.where(restated, np.where(was_done, fewer, required), life.attended)
    life.recorded2 = np.where(restated, life.recorded + rng.integers(35, 90, n), NEVER)
    status, reason = referral_ending(life.outcome2, life.outcome_reason2)
    life.day[:, 5] = np.where(restated, life.recorded2 + rng.integers(1, 11, n), NEVER)
    life.status[:, 5] = status
    life.reason[:, 5] = reason
