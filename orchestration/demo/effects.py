"""The plan of LDU sizes and LDU x intervention effects, with the planted anomalies.

Natural variation between LDUs is kept small so that hardly any LDU leaves the funnel by chance;
four anomalies are planted strongly enough that the consistency funnel must flag them, and one
LDU is a case-mix trap that only indirect standardisation gets right. The draws of people,
referrals and life cycles read their multipliers from the plan, and the ground truth lists it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo.parameters import COMPLETE_SHARE, START_MEDIAN_DIVISOR
from orchestration.demo.reference import Reference

# Planted anomalies: (measure, direction, intervention, effect) with the effect on the LDU.
_COMPLETION_LOW = 0.36  # share completing (of non-neutral endings) against about 0.78
_TIMELY_LOW_MEDIAN = 1.30  # median days to start = 1.30 x max_days_to_start: ~30 % timely
_TIMELY_HIGH_MEDIAN = 1 / 2.6  # ~97 % timely
_REFERRAL_LOW = 0.45  # refers 45 % of what its caseload would predict


@dataclass(frozen=True)
class Anomaly:
    """One planted anomaly: where, which measure, which way, and how strong."""

    ldu: int
    intervention: int
    measure: str
    direction: str
    effect: str


@dataclass
class Plan:
    """LDU sizes and every LDU x intervention effect, including the planted ones."""

    ldu_weight: np.ndarray
    referral: np.ndarray  # multiplier on the referral probability [ldu, intervention]
    start_median: np.ndarray  # multiplier on the median days to start
    complete: np.ndarray  # share completing of non-neutral endings
    anomalies: list[Anomaly]
    trap_ldu: int
    trap_intervention: int


def plan_effects(rng: np.random.Generator, reference: Reference) -> Plan:
    """Choose LDU sizes, small natural variation, and where the anomalies and the trap go.

    The natural variation is kept small (a few per cent) so that hardly any LDU outside the
    planted ones leaves the 99.8 % funnel; the planted effects are large so that theirs always do
    at division scale. Planted LDUs are drawn from the larger LDUs, for volume.
    """
    n_ldu, n_int = len(reference.ldu_codes), len(reference.intervention_codes)
    weight = rng.uniform(0.8, 1.25, n_ldu)
    referral = np.exp(rng.normal(0, 0.03, (n_ldu, n_int)))
    start_median = np.exp(rng.normal(0, 0.02, (n_ldu, n_int)))
    base = np.array([COMPLETE_SHARE.get(t, 0.76) for t in reference.intervention_types])
    logit = np.log(base / (1 - base))[None, :] + rng.normal(0, 0.05, (n_ldu, n_int))
    complete = 1 / (1 + np.exp(-logit))

    tsp, atb = reference.intervention("TSP"), reference.intervention("SI_ATB")
    largest = np.argsort(-weight, kind="stable")[: min(8, n_ldu)]
    chosen = [int(i) for i in rng.permutation(largest)[:5]]
    anomalies = [
        Anomaly(
            chosen[0],
            atb,
            "COMPLETION_RATE",
            "LOW",
            f"{_COMPLETION_LOW:.0%} of non-neutral endings complete here against about "
            f"{COMPLETE_SHARE['STRUCTURED_INTERVENTION']:.0%} elsewhere",
        ),
        Anomaly(
            chosen[1],
            tsp,
            "TIMELY_START_RATE",
            "LOW",
            f"median days to start {_TIMELY_LOW_MEDIAN:.2f} x max_days_to_start "
            "(about 30 % timely against about 78 %)",
        ),
        Anomaly(
            chosen[2],
            atb,
            "REFERRAL_RATIO",
            "LOW",
            f"refers {_REFERRAL_LOW:.0%} of the people its caseload would predict",
        ),
        Anomaly(
            chosen[3],
            atb,
            "TIMELY_START_RATE",
            "HIGH",
            f"median days to start max_days_to_start / {1 / _TIMELY_HIGH_MEDIAN:.1f} "
            "(about 97 % timely against about 78 %)",
        ),
    ]
    for anomaly in anomalies:
        i, j = anomaly.ldu, anomaly.intervention
        if anomaly.measure == "COMPLETION_RATE":
            complete[i, j] = _COMPLETION_LOW
        elif anomaly.measure == "REFERRAL_RATIO":
            referral[i, j] = _REFERRAL_LOW
        elif anomaly.direction == "LOW":
            start_median[i, j] = _TIMELY_LOW_MEDIAN * START_MEDIAN_DIVISOR
        else:
            start_median[i, j] = _TIMELY_HIGH_MEDIAN * START_MEDIAN_DIVISOR
    # The trap LDU's referral propensity per band is exactly the division's.
    referral[chosen[4], :] = 1.0
    return Plan(weight / weight.sum(), referral, start_median, complete, anomalies, chosen[4], tsp)
