"""What each monthly delivery carries: referral versions and completion rows.

A month's referrals file carries the referrals that changed that month (the first file also the
open ones), and its completions file the endings recorded that month, with restatements later.
These index arrays, sorted by month, are what `lines` turns into text and `writing` writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo.life_cycles import LifeCycle
from orchestration.demo.people import People
from orchestration.demo.recording_problems import Plants
from orchestration.demo.referrals import Referrals
from orchestration.demo.vocabulary import N_EVENTS, NEVER, TERMINAL_STATUSES
from orchestration.demo.window import Window


@dataclass
class Versions:
    """Referral rows as delivered: one per referral per month in which it changed."""

    referral: np.ndarray  # index into Referrals
    event: np.ndarray
    month: np.ndarray

    @property
    def size(self) -> int:
        """How many rows are delivered over the window."""
        return int(self.referral.size)


def referral_versions(
    referrals: Referrals, life: LifeCycle, plants: Plants, window: Window
) -> Versions:
    """Each month's file carries the referrals that changed that month, as they stood at its end.

    The first file also carries every referral still open at the start of the window (the initial
    load). Late referrals arrive once, in their late month, in the state they had reached; orphans'
    referrals never arrive.
    """
    day = life.day
    exists = day <= window.last_day
    month = np.where(exists, window.month_of(np.minimum(day, window.last_day)), window.months)
    month = np.maximum(month, 0)
    late = plants.late_month >= 0
    month[late] = np.maximum(month[late], plants.late_month[late][:, None])
    following = np.concatenate([month[:, 1:], np.full((referrals.size, 1), -1)], axis=1)
    following = np.where(
        np.concatenate([exists[:, 1:], np.zeros((referrals.size, 1), bool)], axis=1), following, -1
    )
    is_version = exists & (month != following)

    # Out of scope: closed before the window, with nothing recorded since.
    last_event = np.where(exists, np.arange(N_EVENTS)[None, :], -1).max(axis=1)
    last_status = life.status[np.arange(referrals.size), np.maximum(last_event, 0)]
    last_day = day[np.arange(referrals.size), np.maximum(last_event, 0)]
    closed = np.isin(last_status, TERMINAL_STATUSES) & (last_day < window.first_day)
    recorded_late = np.maximum(
        np.where(life.recorded < NEVER, life.recorded, -1),
        np.where(life.recorded2 < NEVER, life.recorded2, -1),
    )
    out_of_scope = closed & (recorded_late < window.first_day)
    keep = ~out_of_scope & ~plants.kind["ORPHAN_COMPLETION"]
    rows, events = np.nonzero(is_version & keep[:, None])
    months = month[rows, events]
    order = np.lexsort((referrals.referral_id[rows], months))
    return Versions(rows[order], events[order], months[order])


@dataclass
class Completions:
    """Completion rows as delivered: the ending, and any later restatement of it."""

    referral: np.ndarray
    restatement: np.ndarray  # bool: the second row
    month: np.ndarray

    @property
    def size(self) -> int:
        """How many rows are delivered over the window."""
        return int(self.referral.size)


def completion_rows(referrals: Referrals, life: LifeCycle, window: Window) -> Completions:
    """One row per ending in the month it was recorded; a restatement in a later month.

    The planted completion-level problems are applied when the rows' text is built.
    """
    first = np.flatnonzero(life.started)
    second = np.flatnonzero(life.restated)
    referral = np.concatenate([first, second])
    restatement = np.concatenate([np.zeros(first.size, bool), np.ones(second.size, bool)])
    recorded = np.where(restatement, life.recorded2[referral], life.recorded[referral])
    month = window.month_of(np.minimum(recorded, window.last_day + 400))
    keep = (recorded >= window.first_day) & (recorded <= window.last_day)
    referral, restatement, month = referral[keep], restatement[keep], month[keep]
    order = np.lexsort((restatement, referrals.referral_id[referral], month))
    return Completions(referral[order], restatement[order], month[order])


def row_counts(
    population: People, versions: Versions, completions: Completions, window: Window
) -> dict[str, np.ndarray]:
    """Rows in each month's file of each extract, before any bad row is planted."""
    caseload = np.array([int(population.active(int(d)).sum()) for d in window.month_end_days])
    return {
        "caseload": caseload,
        "referrals": np.bincount(versions.month, minlength=window.months),
        "completions": np.bincount(completions.month, minlength=window.months),
    }
