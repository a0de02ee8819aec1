"""Each referral's life cycle: assessment, waiting, start or withdrawal, and ending.

All referrals are walked through the case-management system's statuses in whole arrays, with the
programme's ending as the delivery system records it (outcome, reason, sessions attended and
when it was recorded). `referral_ending` maps an ending onto a referral status and reason, also
for the restatements that `recording_problems` plants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo.effects import Plan
from orchestration.demo.parameters import (
    DAYS_PER_SESSION,
    INELIGIBLE_NOT_SUITABLE_SHARE,
    NOT_SUITABLE_SHARE,
    START_MEDIAN_DIVISOR,
    START_SIGMA,
    WITHDRAWN_BEFORE_START_SHARE,
)
from orchestration.demo.people import People
from orchestration.demo.reference import Reference
from orchestration.demo.referrals import Referrals
from orchestration.demo.vocabulary import N_EVENTS, NEVER, OUTCOME, OUTCOMES, REASON, STATUS


@dataclass
class LifeCycle:
    """Each referral's events (day, status, reason) and its programme ending, if it started."""

    day: np.ndarray  # [referral, event]; NEVER where the event does not happen
    status: np.ndarray
    reason: np.ndarray
    seconds: np.ndarray  # time of day of each event
    started: np.ndarray
    start: np.ndarray
    end: np.ndarray
    outcome: np.ndarray
    outcome_reason: np.ndarray
    attended: np.ndarray
    recorded: np.ndarray  # day the delivery system recorded the ending
    recorded_seconds: np.ndarray
    restated: np.ndarray  # filled in by recording_problems
    end2: np.ndarray
    outcome2: np.ndarray
    outcome_reason2: np.ndarray
    attended2: np.ndarray
    recorded2: np.ndarray


def draw_life_cycles(
    rng: np.random.Generator,
    reference: Reference,
    population: People,
    referrals: Referrals,
    plan: Plan,
) -> LifeCycle:
    """Walk every referral through assessment, waiting, start and ending, in whole arrays.

    About 10 % are assessed not suitable and about 31 % of the rest withdraw before starting, so
    about 60 % start; a programme that would outlast the sentence ends SENTENCE_EXPIRED. Event
    days are strictly increasing within a referral, so re-sent versions always carry a later
    `last_updated_at`.
    """
    n = referrals.size
    j, ldu = referrals.intervention, referrals.ldu
    structured = np.array([t == "STRUCTURED_INTERVENTION" for t in reference.intervention_types])
    sup_end = population.end[referrals.person]
    r0 = referrals.referral_date

    median = reference.max_days_to_start[j] / START_MEDIAN_DIVISOR * plan.start_median[ldu, j]
    wait = np.maximum(3, np.rint(median * np.exp(rng.normal(0, START_SIGMA, n)))).astype(np.int64)
    assess_gap = np.clip(np.rint(wait * rng.uniform(0.15, 0.45, n)), 1, wait - 2).astype(np.int64)
    await_gap = np.clip(rng.integers(1, 5, n), 1, wait - assess_gap - 1)
    e1, e2 = r0 + assess_gap, r0 + assess_gap + await_gap
    planned_start = r0 + wait

    p_not_suitable = np.where(
        referrals.ineligible, INELIGIBLE_NOT_SUITABLE_SHARE, NOT_SUITABLE_SHARE
    )
    not_suitable = rng.random(n) < p_not_suitable
    expired_before = ~not_suitable & (planned_start >= sup_end - 14)
    withdrawn = ~not_suitable & ~expired_before & (rng.random(n) < WITHDRAWN_BEFORE_START_SHARE)
    withdraw_day = e2 + 1 + np.floor((planned_start - e2 - 1) * rng.random(n)).astype(np.int64)
    withdraw_day = np.where(
        expired_before, np.maximum(e2 + 1, np.minimum(planned_start, sup_end)), withdraw_day
    )
    started = ~not_suitable & ~expired_before & ~withdrawn

    # The programme and its ending.
    days_per_session = np.where(
        structured[j],
        DAYS_PER_SESSION["STRUCTURED_INTERVENTION"],
        DAYS_PER_SESSION["ACCREDITED_PROGRAMME"],
    )
    length = np.rint(
        reference.sessions_required[j] * days_per_session * rng.uniform(0.9, 1.3, n)
    ).astype(np.int64)
    roll = rng.random(n)
    outcome = np.where(roll < plan.complete[ldu, j], OUTCOME["COMPLETED"], -1)
    non_completion = rng.choice(
        [OUTCOME[o] for o in ("DESELECTED", "WITHDRAWN", "BREACHED", "RECALLED", "OTHER")],
        size=n,
        p=(0.38, 0.27, 0.17, 0.10, 0.08),
    )
    outcome = np.where(outcome < 0, non_completion, outcome)
    neutral = rng.random(n)
    outcome = np.where(neutral < 0.025, OUTCOME["TRANSFERRED"], outcome)
    outcome = np.where(neutral >= 0.995, OUTCOME["DECEASED"], outcome)
    done = outcome == OUTCOME["COMPLETED"]
    part = np.maximum(1, np.rint(length * rng.uniform(0.05, 0.9, n))).astype(np.int64)
    end = planned_start + np.where(done, length, part)
    expired = end > sup_end
    outcome = np.where(expired, OUTCOME["SENTENCE_EXPIRED"], outcome)
    end = np.where(expired, sup_end, end)
    done = outcome == OUTCOME["COMPLETED"]
    required = reference.sessions_required[j]
    share = np.clip((end - planned_start) / np.maximum(length, 1), 0, 1)
    attended = np.where(
        done,
        required,
        np.minimum(required - 1, np.floor(required * share * rng.uniform(0.6, 1.0, n))),
    ).astype(np.int64)
    outcome_reason = _outcome_reasons(rng, outcome)

    day = np.full((n, N_EVENTS), NEVER, dtype=np.int64)
    status = np.zeros((n, N_EVENTS), dtype=np.int64)
    reason = np.zeros((n, N_EVENTS), dtype=np.int64)
    day[:, 0], status[:, 0] = r0, STATUS["AWAITING_ASSESSMENT"]
    day[:, 1] = e1
    status[:, 1] = np.where(not_suitable, STATUS["NOT_SUITABLE"], STATUS["ASSESSED_SUITABLE"])
    reason[:, 1] = np.where(not_suitable, rng.choice([1, 2, 3, 4], n, p=(0.4, 0.2, 0.2, 0.2)), 0)
    day[:, 2] = np.where(not_suitable, NEVER, e2)
    status[:, 2] = STATUS["AWAITING_START"]
    day[:, 3] = np.where(not_suitable, NEVER, np.where(started, planned_start, withdraw_day))
    status[:, 3] = np.where(started, STATUS["ON_PROGRAMME"], STATUS["WITHDRAWN"])
    pre_start_reason = rng.choice(
        [REASON[r] for r in ("W_MOTIVATION", "W_HEALTH", "W_CIRCUMSTANCES", "W_SENTENCE_ENDED")],
        size=n,
        p=(0.35, 0.2, 0.3, 0.15),
    )
    reason[:, 3] = np.where(
        started, 0, np.where(expired_before, REASON["W_SENTENCE_ENDED"], pre_start_reason)
    )
    day[:, 4] = np.where(started, end + rng.integers(1, 21, n), NEVER)
    status[:, 4], reason[:, 4] = referral_ending(outcome, outcome_reason)

    recorded = end + rng.integers(0, 10, n)
    return LifeCycle(
        day=day,
        status=status,
        reason=reason,
        seconds=rng.integers(8 * 3600, 19 * 3600, (n, N_EVENTS)),
        started=started,
        start=np.where(started, planned_start, NEVER),
        end=np.where(started, end, NEVER),
        outcome=outcome,
        outcome_reason=outcome_reason,
        attended=attended,
        recorded=np.where(started, recorded, NEVER),
        recorded_seconds=rng.integers(7 * 3600, 22 * 3600, (n, 2)),
        restated=np.zeros(n, dtype=bool),
        end2=end.copy(),
        outcome2=outcome.copy(),
        outcome_reason2=outcome_reason.copy(),
        attended2=attended.copy(),
        recorded2=np.full(n, NEVER, dtype=np.int64),
    )


def _outcome_reasons(rng: np.random.Generator, outcome: np.ndarray) -> np.ndarray:
    """The delivery system's reason for an ending, shared with the referral's status_reason."""
    n = outcome.size
    deselected = rng.choice(
        [REASON["D_MISSED_SESSIONS"], REASON["D_ALCOHOL_OR_DRUGS"], REASON["D_BEHAVIOUR"]],
        size=n,
        p=(0.55, 0.25, 0.20),
    )
    withdrawn = rng.choice(
        [REASON["W_MOTIVATION"], REASON["W_HEALTH"], REASON["W_CIRCUMSTANCES"]],
        size=n,
        p=(0.4, 0.3, 0.3),
    )
    reason = np.zeros(n, dtype=np.int64)
    reason = np.where(outcome == OUTCOME["DESELECTED"], deselected, reason)
    reason = np.where(outcome == OUTCOME["WITHDRAWN"], withdrawn, reason)
    return np.where(outcome == OUTCOME["SENTENCE_EXPIRED"], REASON["W_SENTENCE_ENDED"], reason)


def referral_ending(outcome: np.ndarray, outcome_reason: np.ndarray) -> tuple[np.ndarray, ...]:
    """Map a programme ending onto the case-management system's status and reason."""
    status = np.full(outcome.size, STATUS["WITHDRAWN"], dtype=np.int64)
    status = np.where(outcome == OUTCOME["COMPLETED"], STATUS["PROGRAMME_COMPLETE"], status)
    status = np.where(outcome == OUTCOME["DESELECTED"], STATUS["DESELECTED"], status)
    by_outcome = np.zeros(len(OUTCOMES), dtype=np.int64)
    for name, code in (
        ("BREACHED", "W_BREACH"),
        ("RECALLED", "W_RECALL"),
        ("TRANSFERRED", "W_TRANSFERRED"),
        ("DECEASED", "W_DECEASED"),
        ("OTHER", "W_OTHER"),
    ):
        by_outcome[OUTCOME[name]] = REASON[code]
    reason = np.where(outcome_reason > 0, outcome_reason, by_outcome[outcome])
    return status, np.where(outcome == OUTCOME["COMPLETED"], 0, reason)
