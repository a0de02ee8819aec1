"""The ground truth: what the warehouse should find in the generated extracts.

`ground_truth` describes the window, the planted anomalies, the case-mix trap, every bad and
lower-case row with its file and line, and counts of files, rows and planted recording problems that
reached the delivered files, in the terms of docs/metrics.md and docs/contract.md. The generator
writes it to `ground_truth.json`.
"""

from __future__ import annotations

import numpy as np
import yaml

from orchestration.core.settings import REPO_ROOT
from orchestration.demo.deliveries import Completions, Versions
from orchestration.demo.effects import Plan
from orchestration.demo.life_cycles import LifeCycle
from orchestration.demo.parameters import DEFAULT_REFERRAL_PROBABILITY, REFERRAL_PROBABILITY
from orchestration.demo.people import People
from orchestration.demo.recording_problems import Plants
from orchestration.demo.reference import Reference
from orchestration.demo.referrals import Referrals
from orchestration.demo.vocabulary import BANDS, EXTRACTS, REASON_CODES, REASONED_STATUSES
from orchestration.demo.window import Window
from orchestration.demo.writing import Written


def ground_truth(
    reference: Reference,
    window: Window,
    plan: Plan,
    written: Written,
    plants: Plants,
    referrals: Referrals,
    versions: Versions,
    completions: Completions,
    life: LifeCycle,
    population: People,
    parameters: dict[str, object],
) -> dict[str, object]:
    """What the warehouse should find, in the terms of docs/metrics.md and docs/contract.md."""
    years = window.full_financial_years()
    trap_people = population.ldu == plan.trap_ldu
    trap_share = np.bincount(population.band[trap_people], minlength=len(BANDS))
    other_share = np.bincount(population.band[~trap_people], minlength=len(BANDS))
    code = reference.intervention_codes[plan.trap_intervention]
    propensity = REFERRAL_PROBABILITY.get(code, DEFAULT_REFERRAL_PROBABILITY)
    eligible_bands = reference.eligible[plan.trap_intervention].any(axis=0)
    return {
        "parameters": parameters,
        "window": {
            "first_month": window.label(0),
            "last_month": window.label(window.months - 1),
            "first_as_at_date": window.as_at(0),
            "last_as_at_date": window.as_at(window.months - 1),
            "full_financial_years": years,
            **_periods(window),
        },
        "anomalies": [
            {
                "ldu_code": reference.ldu_codes[a.ldu],
                "intervention_code": reference.intervention_codes[a.intervention],
                "measure": a.measure,
                "direction": a.direction,
                "periods": years,
                "planted_effect": a.effect,
            }
            for a in plan.anomalies
        ],
        "case_mix_trap": {
            "ldu_code": reference.ldu_codes[plan.trap_ldu],
            "intervention_code": code,
            "measure": "REFERRAL_RATIO",
            "periods": years,
            "explanation": (
                f"{reference.ldu_codes[plan.trap_ldu]}'s caseload is skewed to the higher "
                f"likelihood-of-reoffending bands, and referral to {code} is far more likely in "
                "the higher eligible band, for every LDU alike. Its crude referral rate "
                "(referrals / eligible caseload) is therefore well above the division's, while "
                "its referral propensity within each band is exactly the division's: the "
                "indirectly standardised REFERRAL_RATIO is about 1 and must not be flagged."
            ),
            "eligible_bands": [b for b, ok in zip(BANDS, eligible_bands, strict=True) if ok],
            "referral_probability_by_band": {
                b: propensity[i] for i, b in enumerate(BANDS) if eligible_bands[i]
            },
            "band_share": _shares(trap_share),
            "band_share_elsewhere": _shares(other_share),
        },
        "bad_rows": written.bad_rows,
        "lowercase_rows": written.lowercase_rows,
        "counts": {
            "files": dict(written.file_rows),
            "rows": {
                extract: sum(n for f, n in written.file_rows.items() if f.startswith(extract))
                for extract in EXTRACTS
            },
            "bad_rows_by_reason": {
                code: sum(1 for b in written.bad_rows if b["reason_code"] == code)
                for code in REASON_CODES
            },
            "people_supervised": int(population.size),
            "referrals_delivered": int(np.unique(versions.referral).size),
            "referral_versions_delivered": versions.size,
            "completion_rows_delivered": completions.size,
            "planted_data_quality": _planted_counts(
                plants, referrals, versions, completions, life, window
            ),
        },
    }


def _periods(window: Window) -> dict[str, list[str]]:
    """The financial years and quarters (docs/metrics.md labels) the window's months fall in.

    Partial ones included: they are the YEAR and QUARTER periods the warehouse reports.
    """
    years: dict[str, None] = {}
    quarters: dict[str, None] = {}
    for k in range(window.months):
        year, month = (int(part) for part in window.label(k).split("-"))
        start = year if month >= 4 else year - 1
        label = f"{start}-{(start + 1) % 100:02d}"
        years[label] = None
        quarters[f"{label} Q{(month - 4) % 12 // 3 + 1}"] = None
    return {"financial_years": list(years), "quarters": list(quarters)}


def _shares(counts: np.ndarray) -> dict[str, float]:
    total = max(int(counts.sum()), 1)
    return {band: round(int(c) / total, 3) for band, c in zip(BANDS, counts, strict=True)}


def _planted_counts(
    plants: Plants,
    referrals: Referrals,
    versions: Versions,
    completions: Completions,
    life: LifeCycle,
    window: Window,
) -> dict[str, object]:
    """How many planted recording problems reached the delivered files.

    Counts are of referrals (or completion rows, for restatements) as delivered; the warehouse's
    checks look at current versions and may count a few fewer near the window's edges, and may
    find a few more natural cases (for example NOT_ON_CASELOAD for open referrals made before the
    first caseload snapshot).
    """
    n = referrals.size
    sent = np.zeros(n, bool)
    sent[versions.referral] = True
    ended = np.zeros(n, bool)
    ended[completions.referral[~completions.restatement]] = True
    restated_rows = np.zeros(n, bool)
    restated_rows[completions.referral[completions.restatement]] = True
    latest = np.full(n, -1)
    np.maximum.at(latest, versions.referral, versions.event)
    current_status = life.status[np.arange(n), np.maximum(latest, 0)]
    kind = plants.kind
    stale_due = life.end + stale_status_days() <= window.last_day
    counts = {
        "ORPHAN_COMPLETION": kind["ORPHAN_COMPLETION"] & (ended | restated_rows) & ~sent,
        "LATE_REFERRAL": kind["LATE_REFERRAL"] & ended & sent,
        "STALE_STATUS": kind["STALE_STATUS"] & ended & sent & stale_due,
        "SESSIONS_OVER_REQUIRED": kind["SESSIONS_OVER_REQUIRED"] & ended & sent,
        "START_BEFORE_REFERRAL": kind["START_BEFORE_REFERRAL"] & ended & sent,
        "INTERVENTION_MISMATCH": kind["INTERVENTION_MISMATCH"] & ended & sent,
        "INELIGIBLE_REFERRAL": kind["INELIGIBLE_REFERRAL"] & sent,
        "MISSING_REASON": kind["MISSING_REASON"]
        & sent
        & np.isin(current_status, REASONED_STATUSES)
        & (latest >= 0),
        "NOT_ON_CASELOAD": kind["WRONG_LDU"] & sent,
        "RESTATED_COMPLETIONS": kind["RESTATED"] & ended & restated_rows,
    }
    out: dict[str, object] = {name: int(mask.sum()) for name, mask in counts.items()}
    out["note"] = (
        "referrals (completions, for ORPHAN_COMPLETION and RESTATED_COMPLETIONS) planted and "
        f"delivered; STALE_STATUS only where the ending is {stale_status_days()}+ days before the "
        "last snapshot"
    )
    return out


def stale_status_days() -> int:
    """The dbt project's var stale_status_days, the one home of the rule the warehouse applies."""
    project = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    return int(project["vars"]["stale_status_days"])
