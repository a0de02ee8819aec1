"""Synthetic monthly extracts with known answers, for the demo, the tests and the benchmarks.

Why this exists: the warehouse has to be shown and tested on data that has the shape and the
faults of real deliveries (turnover on the caseload, referral life cycles re-sent as they change,
restated completions, recording errors and malformed rows) and whose right answers are known:
anomalies planted strongly enough that the consistency funnel must flag them, a case-mix trap that
only indirect standardisation gets right, and a list of every malformed row with the reason code
the contract gives it. All of that is written to `ground_truth.json` beside the extracts.

Everything is drawn with numpy in whole-array operations (the only Python loops run over months,
interventions and the few planted rows), and the CSV text is assembled with numpy's string
functions rather than a CSV writer, so that a national window (240,000 people, 36 months, about a
gigabyte of CSV) is written in well under two minutes. The same seed always gives byte-identical
files; compressed files carry no timestamp for that reason.
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orchestration.ingestion import contract

# ---------------------------------------------------------------------------------------------
# Contract vocabulary (EXTRACTS.md). Order matters: the arrays below are indexed by position.
# ---------------------------------------------------------------------------------------------

# The contract's vocabulary, from its one definition (orchestration/ingestion/contract.py).
OFFENCES = contract.OFFENCE_CATEGORIES
BANDS = contract.BANDS
SENTENCES = contract.SENTENCE_TYPES
GENDERS = contract.GENDERS
ETHNICITIES = contract.ETHNICITY_GROUPS
STATUSES = contract.REFERRAL_STATUSES
OUTCOMES = contract.OUTCOMES
# Reason 0 is "no reason" (an empty field).
REASONS = (
    "",
    "NS_RISK",
    "NS_LEARNING_NEEDS",
    "NS_MENTAL_HEALTH",
    "NS_DENIAL",
    "W_SENTENCE_ENDED",
    "W_MOTIVATION",
    "W_HEALTH",
    "W_CIRCUMSTANCES",
    "W_BREACH",
    "W_RECALL",
    "W_TRANSFERRED",
    "W_DECEASED",
    "W_OTHER",
    "D_MISSED_SESSIONS",
    "D_ALCOHOL_OR_DRUGS",
    "D_BEHAVIOUR",
)

CASELOAD_COLUMNS = contract.CASELOAD.column_names
REFERRAL_COLUMNS = contract.REFERRALS.column_names
COMPLETION_COLUMNS = contract.COMPLETIONS.column_names
EXTRACT_COLUMNS = {
    "caseload": CASELOAD_COLUMNS,
    "referrals": REFERRAL_COLUMNS,
    "completions": COMPLETION_COLUMNS,
}
EXTRACTS = contract.EXTRACT_ORDER

# Reason codes the warehouse gives a quarantined row, in the contract's order of precedence.
REASON_CODES = contract.REASON_ORDER

_S = {name: i for i, name in enumerate(STATUSES)}
_O = {name: i for i, name in enumerate(OUTCOMES)}
_R = {name: i for i, name in enumerate(REASONS)}
_TERMINAL_STATUSES = np.array(
    [_S[s] for s in ("NOT_SUITABLE", "PROGRAMME_COMPLETE", "DESELECTED", "WITHDRAWN")]
)
_REASONED_STATUSES = np.array([_S[s] for s in ("NOT_SUITABLE", "DESELECTED", "WITHDRAWN")])

# ---------------------------------------------------------------------------------------------
# Population and programme parameters. Shares are loosely those of probation caseloads in England
# and Wales; what matters for the tests is that they are stable and documented.
# ---------------------------------------------------------------------------------------------

_OFFENCE_SHARE = (0.27, 0.14, 0.05, 0.03, 0.19, 0.14, 0.05, 0.13)
_BAND_SHARE = (0.33, 0.37, 0.22, 0.08)
# The case-mix trap LDU: the same per-band referral propensity, a much riskier caseload.
_TRAP_BAND_SHARE = (0.05, 0.07, 0.70, 0.18)
_ROSH_SHARE = (0.30, 0.50, 0.17, 0.03)
_ROSH_SHARE_HARM = (0.05, 0.45, 0.42, 0.08)  # violence, domestic abuse, sexual offences
_SENTENCE_SHARE = (0.36, 0.22, 0.32, 0.10)
_GENDER_SHARE = (0.86, 0.135, 0.002, 0.003)
_ETHNICITY_SHARE = (0.09, 0.08, 0.04, 0.76, 0.015, 0.015)

# Probability that a newly supervised, eligible person is referred, by reoffending band (LOW,
# MEDIUM, HIGH, VERY_HIGH; only the intervention's eligible bands are ever used). It rises with the
# band, which is what makes a crude referral rate depend on case mix.
_REFERRAL_PROBABILITY = {
    "TSP": (0.05, 0.08, 0.45, 0.50),
    "BBR": (0.25, 0.30, 0.50, 0.55),
    "RESOLVE": (0.25, 0.30, 0.40, 0.45),
    "KAIZEN": (0.30, 0.30, 0.35, 0.50),
    "HORIZON": (0.30, 0.35, 0.45, 0.55),
    "IHORIZON": (0.40, 0.50, 0.55, 0.60),
    "DID": (0.35, 0.45, 0.50, 0.50),
    "SI_ATB": (0.20, 0.30, 0.45, 0.50),
    "SI_EM": (0.05, 0.08, 0.12, 0.15),
    "SI_DR": (0.08, 0.12, 0.16, 0.20),
}
_DEFAULT_REFERRAL_PROBABILITY = (0.10, 0.15, 0.20, 0.25)

_NOT_SUITABLE_SHARE = 0.10
_INELIGIBLE_NOT_SUITABLE_SHARE = 0.50
_WITHDRAWN_BEFORE_START_SHARE = 0.31
_COMPLETE_SHARE = {"ACCREDITED_PROGRAMME": 0.74, "STRUCTURED_INTERVENTION": 0.78}
_DAYS_PER_SESSION = {"ACCREDITED_PROGRAMME": 3.5, "STRUCTURED_INTERVENTION": 7.0}
# Days from referral to start are log-normal; the median is max_days_to_start / 1.47, which puts
# about 78 % of starts within the intervention's limit.
_START_SIGMA = 0.5
_START_MEDIAN_DIVISOR = 1.47
_INELIGIBLE_SHARE = 0.01

# Planted anomalies: (measure, direction, intervention, effect) with the effect on the LDU.
_COMPLETION_LOW = 0.36  # share completing (of non-neutral endings) against about 0.78
_TIMELY_LOW_MEDIAN = 1.30  # median days to start = 1.30 x max_days_to_start: ~30 % timely
_TIMELY_HIGH_MEDIAN = 1 / 2.6  # ~97 % timely
_REFERRAL_LOW = 0.45  # refers 45 % of what its caseload would predict

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

_DAY0 = np.datetime64("1970-01-01", "D")
_NEVER = 10**7  # a day number beyond any window: "this event does not happen"
_N_EVENTS = 6  # referral, assessment, awaiting start, start or withdrawal, ending, restated ending


# ---------------------------------------------------------------------------------------------
# Public interface
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote, for the CLI to print and the benchmarks to record."""

    out_dir: Path
    files: tuple[str, ...]
    rows: dict[str, int]
    file_rows: dict[str, int]
    bytes_written: int
    seconds: float


def generate(
    out_dir: Path,
    people: int = 17000,
    start: str = "2023-10",
    months: int = 36,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
    seeds_dir: Path | None = None,
) -> GenerationSummary:
    """Write `months` monthly deliveries of the three extracts and `ground_truth.json`.

    Args:
        out_dir: Folder to write into (created if missing). Existing extract files of the same
            names are overwritten; nothing else in the folder is touched.
        people: About how many people are under supervision on any day.
        start: First month of the window, `YYYY-MM`.
        months: Number of monthly deliveries.
        seed: Random seed; the same arguments always give byte-identical files.
        progress: Called with one line per phase.
        seeds_dir: Folder with `ldus.csv`, `interventions.csv` and `intervention_eligibility.csv`;
            defaults to the repository's `seeds/`.

    Returns:
        The files written, their row counts (bad rows included), total bytes and elapsed seconds.
    """
    if people < 100:
        raise ValueError(f"people must be at least 100 (got {people}); the model needs a caseload")
    if months < 1:
        raise ValueError(f"months must be at least 1 (got {months})")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a folder; choose another --out")
    began = time.perf_counter()
    report = progress or (lambda _line: None)
    reference = load_reference(seeds_dir or Path(__file__).resolve().parents[2] / "seeds")
    window = _Window.from_start(start, months)
    rng = np.random.default_rng(seed)

    plan = _plan_effects(rng, reference)
    population = _draw_people(rng, reference, window, people, plan)
    report(f"people: {population.size:,} supervised over the window and its run-in")
    referrals = _draw_referrals(rng, reference, population, window, plan)
    report(f"referrals: {referrals.size:,} drawn ({int(referrals.ineligible.sum()):,} ineligible)")
    life = _draw_life_cycles(rng, reference, population, referrals, plan)
    plants = _plant_recording_problems(rng, reference, population, referrals, life, window)
    report(f"life cycles: {int(life.started.sum()):,} starts; recording problems planted")
    versions = _referral_versions(referrals, life, plants, window)
    completions = _completion_rows(referrals, life, window)
    report(f"deliveries: {versions.size:,} referral versions, {completions.size:,} completion rows")

    lines = _Lines(
        caseload=_caseload_lines(reference, population),
        referrals=_referral_lines(reference, population, referrals, life, versions),
        completions=_completion_lines(reference, population, referrals, life, plants, completions),
    )
    report("text: every caseload, referral and completion line built")
    row_counts = _row_counts(population, versions, completions, window)
    bad_plan = _plan_bad_rows(rng, window, row_counts)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = _write_files(
        out_dir,
        reference,
        window,
        population,
        versions,
        completions,
        lines,
        bad_plan,
        rng,
        report,
    )
    truth = _ground_truth(
        reference,
        window,
        plan,
        written,
        plants,
        referrals,
        versions,
        completions,
        life,
        population,
        dict(people=people, start=start, months=months, seed=seed),
    )
    (out_dir / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", "utf-8")
    report(f"ground truth: {len(truth['anomalies'])} anomalies, {len(truth['bad_rows'])} bad rows")

    rows = {extract: 0 for extract in EXTRACTS}
    for name, count in written.file_rows.items():
        rows[name.split("_", 1)[0]] += count
    return GenerationSummary(
        out_dir=out_dir,
        files=tuple(written.file_rows),
        rows=rows,
        file_rows=dict(written.file_rows),
        bytes_written=written.bytes_written,
        seconds=round(time.perf_counter() - began, 3),
    )


# ---------------------------------------------------------------------------------------------
# Reference data and the window
# ---------------------------------------------------------------------------------------------


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
        valid_to=np.array([_day(r["valid_to"], _NEVER) for r in interventions]),
        eligible=eligible,
    )


def _read_seed(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"reference seed {path} is missing; pass seeds_dir= to generate")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _day(text: str | None, default: int) -> int:
    text = (text or "").strip()
    return int((np.datetime64(text, "D") - _DAY0).astype(int)) if text else default


@dataclass(frozen=True)
class _Window:
    """The delivery months: file k is dated at the last day of month k."""

    first_month: np.datetime64
    months: int
    month_end_days: np.ndarray  # day numbers of the as-at dates
    first_day: int
    last_day: int

    @classmethod
    def from_start(cls, start: str, months: int) -> _Window:
        try:
            first = np.datetime64(start, "M")
        except ValueError as error:
            raise ValueError(f"start must be YYYY-MM (got {start!r})") from error
        ends = (first + np.arange(1, months + 1)).astype("datetime64[D]") - 1
        end_days = (ends - _DAY0).astype(np.int64)
        first_day = int((first.astype("datetime64[D]") - _DAY0).astype(int))
        return cls(first, months, end_days, first_day, int(end_days[-1]))

    def month_of(self, days: np.ndarray) -> np.ndarray:
        """Index of the delivery month that contains each day (negative before the window)."""
        months = days.astype("datetime64[D]").astype("datetime64[M]") - self.first_month
        return months.astype(np.int64)

    def as_at(self, k: int) -> str:
        return str(_DAY0 + int(self.month_end_days[k]))

    def label(self, k: int) -> str:
        return str(self.first_month + k)

    def full_financial_years(self) -> list[str]:
        """Financial years (April to March) lying wholly inside the window, as `2024-25`."""
        first = self.first_month.astype(object)
        last = (self.first_month + self.months - 1).astype(object)
        years = []
        for year in range(first.year - 1, last.year + 1):
            if (first.year, first.month) <= (year, 4) and (year + 1, 3) <= (last.year, last.month):
                years.append(f"{year}-{(year + 1) % 100:02d}")
        return years


# ---------------------------------------------------------------------------------------------
# Planted effects
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Anomaly:
    ldu: int
    intervention: int
    measure: str
    direction: str
    effect: str


@dataclass
class _Plan:
    """LDU sizes and every LDU x intervention effect, including the planted ones."""

    ldu_weight: np.ndarray
    referral: np.ndarray  # multiplier on the referral probability [ldu, intervention]
    start_median: np.ndarray  # multiplier on the median days to start
    complete: np.ndarray  # share completing of non-neutral endings
    anomalies: list[_Anomaly]
    trap_ldu: int
    trap_intervention: int


def _plan_effects(rng: np.random.Generator, reference: Reference) -> _Plan:
    """Choose LDU sizes, small natural variation, and where the anomalies and the trap go.

    The natural variation is kept small (a few per cent) so that hardly any LDU outside the
    planted ones leaves the 99.8 % funnel; the planted effects are large so that theirs always do
    at division scale. Planted LDUs are drawn from the larger LDUs, for volume.
    """
    n_ldu, n_int = len(reference.ldu_codes), len(reference.intervention_codes)
    weight = rng.uniform(0.8, 1.25, n_ldu)
    referral = np.exp(rng.normal(0, 0.03, (n_ldu, n_int)))
    start_median = np.exp(rng.normal(0, 0.02, (n_ldu, n_int)))
    base = np.array([_COMPLETE_SHARE.get(t, 0.76) for t in reference.intervention_types])
    logit = np.log(base / (1 - base))[None, :] + rng.normal(0, 0.05, (n_ldu, n_int))
    complete = 1 / (1 + np.exp(-logit))

    tsp, atb = reference.intervention("TSP"), reference.intervention("SI_ATB")
    largest = np.argsort(-weight, kind="stable")[: min(8, n_ldu)]
    chosen = [int(i) for i in rng.permutation(largest)[:5]]
    anomalies = [
        _Anomaly(
            chosen[0],
            atb,
            "COMPLETION_RATE",
            "LOW",
            f"{_COMPLETION_LOW:.0%} of non-neutral endings complete here against about "
            f"{_COMPLETE_SHARE['STRUCTURED_INTERVENTION']:.0%} elsewhere",
        ),
        _Anomaly(
            chosen[1],
            tsp,
            "TIMELY_START_RATE",
            "LOW",
            f"median days to start {_TIMELY_LOW_MEDIAN:.2f} x max_days_to_start "
            "(about 30 % timely against about 78 %)",
        ),
        _Anomaly(
            chosen[2],
            atb,
            "REFERRAL_RATIO",
            "LOW",
            f"refers {_REFERRAL_LOW:.0%} of the people its caseload would predict",
        ),
        _Anomaly(
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
            start_median[i, j] = _TIMELY_LOW_MEDIAN * _START_MEDIAN_DIVISOR
        else:
            start_median[i, j] = _TIMELY_HIGH_MEDIAN * _START_MEDIAN_DIVISOR
    # The trap LDU's referral propensity per band is exactly the division's.
    referral[chosen[4], :] = 1.0
    return _Plan(weight / weight.sum(), referral, start_median, complete, anomalies, chosen[4], tsp)


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------


@dataclass
class _People:
    """One row per period of supervision, sorted by CRN (the caseload files' order)."""

    crn: np.ndarray
    arrival: np.ndarray  # first day under supervision
    end: np.ndarray  # first day no longer under supervision
    ldu: np.ndarray
    band: np.ndarray
    change_day: np.ndarray  # the day the LDU or band changes (_NEVER if neither does)
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
        return int(self.crn.size)

    def active(self, day: int) -> np.ndarray:
        return (self.arrival <= day) & (self.end > day)


def _draw_people(
    rng: np.random.Generator, reference: Reference, window: _Window, people: int, plan: _Plan
) -> _People:
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
    band = rng.choice(len(BANDS), size=n, p=_BAND_SHARE)
    trap = ldu == plan.trap_ldu
    band[trap] = rng.choice(len(BANDS), size=int(trap.sum()), p=_TRAP_BAND_SHARE)
    offence = rng.choice(len(OFFENCES), size=n, p=_OFFENCE_SHARE)
    harm = offence <= OFFENCES.index("SEXUAL_ONLINE")
    rosh = np.where(
        harm,
        rng.choice(len(BANDS), size=n, p=_ROSH_SHARE_HARM),
        rng.choice(len(BANDS), size=n, p=_ROSH_SHARE),
    )
    age_days = (18 + np.minimum(rng.gamma(2.2, 7.0, n), 55)) * 365.25
    young = rng.random(n) < 0.003
    age_days[young] = rng.uniform(16.1, 17.9, int(young.sum())) * 365.25

    # At most one change per person: a transfer to another LDU (3 %) or a new band (2 %). Band
    # changes are kept rare because METRICS.md strata use the latest snapshot's band while a
    # referral keeps the band it was made at; with many changes that difference alone biases
    # the case-mix trap's standardised ratio upwards by several per cent.
    roll = rng.random(n)
    can_change = duration > 200
    when = 150 + np.floor(rng.random(n) * np.maximum(duration - 180, 1)).astype(np.int64)
    change_day = np.where(can_change, arrival + when, _NEVER)
    change_day = np.where(roll < 0.05, change_day, _NEVER)
    transfer = (roll < 0.03) & (change_day < _NEVER)
    other_ldu = (ldu + rng.integers(1, len(reference.ldu_codes), n)) % len(reference.ldu_codes)
    step = np.where(rng.random(n) < 0.5, -1, 1)
    band_after = np.where(transfer, band, np.clip(band + step, 0, len(BANDS) - 1))
    return _People(
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
        sentence=rng.choice(len(SENTENCES), size=n, p=_SENTENCE_SHARE),
        gender=rng.choice(len(GENDERS), size=n, p=_GENDER_SHARE),
        ethnicity=rng.choice(len(ETHNICITIES), size=n, p=_ETHNICITY_SHARE),
        birth=arrival - age_days.astype(np.int64) - rng.integers(0, 365, n),
    )


# ---------------------------------------------------------------------------------------------
# Referrals and their life cycles
# ---------------------------------------------------------------------------------------------


@dataclass
class _Referrals:
    """One row per referral: who, where, what, when, and the person's state at referral."""

    referral_id: np.ndarray
    person: np.ndarray
    intervention: np.ndarray
    ldu: np.ndarray
    referral_date: np.ndarray
    ineligible: np.ndarray

    @property
    def size(self) -> int:
        return int(self.person.size)


def _draw_referrals(
    rng: np.random.Generator,
    reference: Reference,
    population: _People,
    window: _Window,
    plan: _Plan,
) -> _Referrals:
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
        propensity = np.array(_REFERRAL_PROBABILITY.get(code, _DEFAULT_REFERRAL_PROBABILITY))
        eligible = reference.eligible[j, population.offence, population.band]
        eligible &= male | ~reference.male_only[j]
        p = propensity[population.band] * plan.referral[population.ldu, j]
        hit = np.flatnonzero(eligible & (rng.random(population.size) < p))
        persons.append(hit)
        interventions.append(np.full(hit.size, j))
    n_eligible = sum(part.size for part in persons)
    n_ineligible = int(round(_INELIGIBLE_SHARE * n_eligible))
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
    return _Referrals(
        referral_id=base + np.arange(person.size, dtype=np.int64),
        person=person,
        intervention=intervention,
        ldu=population.ldu[person].copy(),
        referral_date=referral_date,
        ineligible=ineligible,
    )


@dataclass
class _LifeCycle:
    """Each referral's events (day, status, reason) and its programme ending, if it started."""

    day: np.ndarray  # [referral, event]; _NEVER where the event does not happen
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
    restated: np.ndarray  # filled in by the planting step
    end2: np.ndarray
    outcome2: np.ndarray
    outcome_reason2: np.ndarray
    attended2: np.ndarray
    recorded2: np.ndarray


def _draw_life_cycles(
    rng: np.random.Generator,
    reference: Reference,
    population: _People,
    referrals: _Referrals,
    plan: _Plan,
) -> _LifeCycle:
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

    median = reference.max_days_to_start[j] / _START_MEDIAN_DIVISOR * plan.start_median[ldu, j]
    wait = np.maximum(3, np.rint(median * np.exp(rng.normal(0, _START_SIGMA, n)))).astype(np.int64)
    assess_gap = np.clip(np.rint(wait * rng.uniform(0.15, 0.45, n)), 1, wait - 2).astype(np.int64)
    await_gap = np.clip(rng.integers(1, 5, n), 1, wait - assess_gap - 1)
    e1, e2 = r0 + assess_gap, r0 + assess_gap + await_gap
    planned_start = r0 + wait

    p_not_suitable = np.where(
        referrals.ineligible, _INELIGIBLE_NOT_SUITABLE_SHARE, _NOT_SUITABLE_SHARE
    )
    not_suitable = rng.random(n) < p_not_suitable
    expired_before = ~not_suitable & (planned_start >= sup_end - 14)
    withdrawn = ~not_suitable & ~expired_before & (rng.random(n) < _WITHDRAWN_BEFORE_START_SHARE)
    withdraw_day = e2 + 1 + np.floor((planned_start - e2 - 1) * rng.random(n)).astype(np.int64)
    withdraw_day = np.where(
        expired_before, np.maximum(e2 + 1, np.minimum(planned_start, sup_end)), withdraw_day
    )
    started = ~not_suitable & ~expired_before & ~withdrawn

    # The programme and its ending.
    days_per_session = np.where(structured[j], 7.0, 3.5)
    length = np.rint(
        reference.sessions_required[j] * days_per_session * rng.uniform(0.9, 1.3, n)
    ).astype(np.int64)
    roll = rng.random(n)
    outcome = np.where(roll < plan.complete[ldu, j], _O["COMPLETED"], -1)
    non_completion = rng.choice(
        [_O[o] for o in ("DESELECTED", "WITHDRAWN", "BREACHED", "RECALLED", "OTHER")],
        size=n,
        p=(0.38, 0.27, 0.17, 0.10, 0.08),
    )
    outcome = np.where(outcome < 0, non_completion, outcome)
    neutral = rng.random(n)
    outcome = np.where(neutral < 0.025, _O["TRANSFERRED"], outcome)
    outcome = np.where(neutral >= 0.995, _O["DECEASED"], outcome)
    done = outcome == _O["COMPLETED"]
    part = np.maximum(1, np.rint(length * rng.uniform(0.05, 0.9, n))).astype(np.int64)
    end = planned_start + np.where(done, length, part)
    expired = end > sup_end
    outcome = np.where(expired, _O["SENTENCE_EXPIRED"], outcome)
    end = np.where(expired, sup_end, end)
    done = outcome == _O["COMPLETED"]
    required = reference.sessions_required[j]
    share = np.clip((end - planned_start) / np.maximum(length, 1), 0, 1)
    attended = np.where(
        done,
        required,
        np.minimum(required - 1, np.floor(required * share * rng.uniform(0.6, 1.0, n))),
    ).astype(np.int64)
    outcome_reason = _outcome_reasons(rng, outcome)

    day = np.full((n, _N_EVENTS), _NEVER, dtype=np.int64)
    status = np.zeros((n, _N_EVENTS), dtype=np.int64)
    reason = np.zeros((n, _N_EVENTS), dtype=np.int64)
    day[:, 0], status[:, 0] = r0, _S["AWAITING_ASSESSMENT"]
    day[:, 1] = e1
    status[:, 1] = np.where(not_suitable, _S["NOT_SUITABLE"], _S["ASSESSED_SUITABLE"])
    reason[:, 1] = np.where(not_suitable, rng.choice([1, 2, 3, 4], n, p=(0.4, 0.2, 0.2, 0.2)), 0)
    day[:, 2] = np.where(not_suitable, _NEVER, e2)
    status[:, 2] = _S["AWAITING_START"]
    day[:, 3] = np.where(not_suitable, _NEVER, np.where(started, planned_start, withdraw_day))
    status[:, 3] = np.where(started, _S["ON_PROGRAMME"], _S["WITHDRAWN"])
    pre_start_reason = rng.choice(
        [_R[r] for r in ("W_MOTIVATION", "W_HEALTH", "W_CIRCUMSTANCES", "W_SENTENCE_ENDED")],
        size=n,
        p=(0.35, 0.2, 0.3, 0.15),
    )
    reason[:, 3] = np.where(
        started, 0, np.where(expired_before, _R["W_SENTENCE_ENDED"], pre_start_reason)
    )
    day[:, 4] = np.where(started, end + rng.integers(1, 21, n), _NEVER)
    status[:, 4], reason[:, 4] = _referral_ending(outcome, outcome_reason)

    recorded = end + rng.integers(0, 10, n)
    return _LifeCycle(
        day=day,
        status=status,
        reason=reason,
        seconds=rng.integers(8 * 3600, 19 * 3600, (n, _N_EVENTS)),
        started=started,
        start=np.where(started, planned_start, _NEVER),
        end=np.where(started, end, _NEVER),
        outcome=outcome,
        outcome_reason=outcome_reason,
        attended=attended,
        recorded=np.where(started, recorded, _NEVER),
        recorded_seconds=rng.integers(7 * 3600, 22 * 3600, (n, 2)),
        restated=np.zeros(n, dtype=bool),
        end2=end.copy(),
        outcome2=outcome.copy(),
        outcome_reason2=outcome_reason.copy(),
        attended2=attended.copy(),
        recorded2=np.full(n, _NEVER, dtype=np.int64),
    )


def _outcome_reasons(rng: np.random.Generator, outcome: np.ndarray) -> np.ndarray:
    """The delivery system's reason for an ending, shared with the referral's status_reason."""
    n = outcome.size
    deselected = rng.choice(
        [_R["D_MISSED_SESSIONS"], _R["D_ALCOHOL_OR_DRUGS"], _R["D_BEHAVIOUR"]],
        size=n,
        p=(0.55, 0.25, 0.20),
    )
    withdrawn = rng.choice(
        [_R["W_MOTIVATION"], _R["W_HEALTH"], _R["W_CIRCUMSTANCES"]], size=n, p=(0.4, 0.3, 0.3)
    )
    reason = np.zeros(n, dtype=np.int64)
    reason = np.where(outcome == _O["DESELECTED"], deselected, reason)
    reason = np.where(outcome == _O["WITHDRAWN"], withdrawn, reason)
    return np.where(outcome == _O["SENTENCE_EXPIRED"], _R["W_SENTENCE_ENDED"], reason)


def _referral_ending(outcome: np.ndarray, outcome_reason: np.ndarray) -> tuple[np.ndarray, ...]:
    """Map a programme ending onto the case-management system's status and reason."""
    status = np.full(outcome.size, _S["WITHDRAWN"], dtype=np.int64)
    status = np.where(outcome == _O["COMPLETED"], _S["PROGRAMME_COMPLETE"], status)
    status = np.where(outcome == _O["DESELECTED"], _S["DESELECTED"], status)
    by_outcome = np.zeros(len(OUTCOMES), dtype=np.int64)
    for name, code in (
        ("BREACHED", "W_BREACH"),
        ("RECALLED", "W_RECALL"),
        ("TRANSFERRED", "W_TRANSFERRED"),
        ("DECEASED", "W_DECEASED"),
        ("OTHER", "W_OTHER"),
    ):
        by_outcome[_O[name]] = _R[code]
    reason = np.where(outcome_reason > 0, outcome_reason, by_outcome[outcome])
    return status, np.where(outcome == _O["COMPLETED"], 0, reason)


# ---------------------------------------------------------------------------------------------
# Recording problems (METRICS.md data_quality_issues)
# ---------------------------------------------------------------------------------------------


@dataclass
class _Plants:
    """Which referrals carry which recording problem; the ground truth counts what was sent."""

    kind: dict[str, np.ndarray]  # bool per referral
    late_month: np.ndarray  # first delivery month of a late referral (-1 if not late)
    mismatch_intervention: np.ndarray
    early_start: np.ndarray  # completion start_date planted before the referral date


def _plant_recording_problems(
    rng: np.random.Generator,
    reference: Reference,
    population: _People,
    referrals: _Referrals,
    life: _LifeCycle,
    window: _Window,
) -> _Plants:
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
    kind["SESSIONS_OVER_REQUIRED"] &= life.outcome == _O["COMPLETED"]

    # A late referral is first delivered one or two months after its completion was recorded.
    completion_month = window.month_of(np.minimum(life.recorded, window.last_day + 400))
    late_month = completion_month + rng.integers(1, 3, n)
    kind["LATE_REFERRAL"] &= (completion_month >= 0) & (late_month < window.months)
    late_month = np.where(kind["LATE_REFERRAL"], late_month, -1)

    # Stale: the case-management system never records the ending (half never even the start).
    stale = kind["STALE_STATUS"]
    drop_start = stale & (rng.random(n) < 0.5)
    life.day[stale, 4:] = _NEVER
    life.day[drop_start, 3] = _NEVER

    # Restatement: the delivery system corrects the ending a month or more later.
    restated = kind["RESTATED"] & (life.outcome != _O["TRANSFERRED"])
    restated &= life.outcome != _O["DECEASED"]
    restated &= life.outcome != _O["SENTENCE_EXPIRED"]
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
    return _Plants(kind, late_month, mismatch, early_start)


def _restate(
    rng: np.random.Generator,
    reference: Reference,
    referrals: _Referrals,
    life: _LifeCycle,
    restated: np.ndarray,
) -> None:
    """A completed ending restated as DESELECTED earlier, or a non-completion as COMPLETED."""
    n = referrals.size
    required = reference.sessions_required[referrals.intervention]
    was_done = life.outcome == _O["COMPLETED"]
    shorter = life.start + np.floor((life.end - life.start) * rng.uniform(0.5, 0.95, n))
    life.restated = restated
    life.outcome2 = np.where(
        restated, np.where(was_done, _O["DESELECTED"], _O["COMPLETED"]), life.outcome
    )
    life.end2 = np.where(
        restated,
        np.where(was_done, shorter.astype(np.int64), life.end + rng.integers(0, 8, n)),
        life.end,
    )
    life.outcome_reason2 = np.where(
        restated, np.where(was_done, _R["D_MISSED_SESSIONS"], 0), life.outcome_reason
    )
    fewer = np.maximum(0, required - 1 - rng.integers(0, 3, n))
    life.attended2 = np.where(restated, np.where(was_done, fewer, required), life.attended)
    life.recorded2 = np.where(restated, life.recorded + rng.integers(35, 90, n), _NEVER)
    status, reason = _referral_ending(life.outcome2, life.outcome_reason2)
    life.day[:, 5] = np.where(restated, life.recorded2 + rng.integers(1, 11, n), _NEVER)
    life.status[:, 5] = status
    life.reason[:, 5] = reason


# ---------------------------------------------------------------------------------------------
# What each monthly delivery carries
# ---------------------------------------------------------------------------------------------


@dataclass
class _Versions:
    """Referral rows as delivered: one per referral per month in which it changed."""

    referral: np.ndarray  # index into _Referrals
    event: np.ndarray
    month: np.ndarray

    @property
    def size(self) -> int:
        return int(self.referral.size)


def _referral_versions(
    referrals: _Referrals, life: _LifeCycle, plants: _Plants, window: _Window
) -> _Versions:
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
    last_event = np.where(exists, np.arange(_N_EVENTS)[None, :], -1).max(axis=1)
    last_status = life.status[np.arange(referrals.size), np.maximum(last_event, 0)]
    last_day = day[np.arange(referrals.size), np.maximum(last_event, 0)]
    closed = np.isin(last_status, _TERMINAL_STATUSES) & (last_day < window.first_day)
    recorded_late = np.maximum(
        np.where(life.recorded < _NEVER, life.recorded, -1),
        np.where(life.recorded2 < _NEVER, life.recorded2, -1),
    )
    out_of_scope = closed & (recorded_late < window.first_day)
    keep = ~out_of_scope & ~plants.kind["ORPHAN_COMPLETION"]
    rows, events = np.nonzero(is_version & keep[:, None])
    months = month[rows, events]
    order = np.lexsort((referrals.referral_id[rows], months))
    return _Versions(rows[order], events[order], months[order])


@dataclass
class _Completions:
    """Completion rows as delivered: the ending, and any later restatement of it."""

    referral: np.ndarray
    restatement: np.ndarray  # bool: the second row
    month: np.ndarray

    @property
    def size(self) -> int:
        return int(self.referral.size)


def _completion_rows(referrals: _Referrals, life: _LifeCycle, window: _Window) -> _Completions:
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
    return _Completions(referral[order], restatement[order], month[order])


def _row_counts(
    population: _People, versions: _Versions, completions: _Completions, window: _Window
) -> dict[str, np.ndarray]:
    caseload = np.array([int(population.active(int(d)).sum()) for d in window.month_end_days])
    return {
        "caseload": caseload,
        "referrals": np.bincount(versions.month, minlength=window.months),
        "completions": np.bincount(completions.month, minlength=window.months),
    }


# ---------------------------------------------------------------------------------------------
# CSV text, built column-wise with numpy's string functions
# ---------------------------------------------------------------------------------------------


@dataclass
class _Lines:
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


def _caseload_lines(reference: Reference, population: _People) -> tuple[np.ndarray, np.ndarray]:
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


def _referral_lines(
    reference: Reference,
    population: _People,
    referrals: _Referrals,
    life: _LifeCycle,
    versions: _Versions,
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


def _completion_lines(
    reference: Reference,
    population: _People,
    referrals: _Referrals,
    life: _LifeCycle,
    plants: _Plants,
    completions: _Completions,
) -> np.ndarray:
    """Every delivered completion row's line, with the planted completion-level problems."""
    r, second = completions.referral, completions.restatement
    intervention = plants.mismatch_intervention[r]
    required = reference.sessions_required[intervention]
    outcome = np.where(second, life.outcome2[r], life.outcome[r])
    attended = np.where(second, life.attended2[r], life.attended[r])
    mismatched = intervention != referrals.intervention[r]
    attended = np.where(mismatched & (outcome == _O["COMPLETED"]), required, attended)
    attended = np.where(
        mismatched & (outcome != _O["COMPLETED"]), np.minimum(attended, required - 1), attended
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


# ---------------------------------------------------------------------------------------------
# Deliberately bad rows and lower-case codes (EXTRACTS.md "What happens to what is not accepted")
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """One planted row: a bad row (reason code given) or a valid row with lower-case codes."""

    extract: str
    reason_code: str | None  # None for a lower-case row
    columns: tuple[str, ...]
    change: dict[str, str] = field(default_factory=dict)
    shape: str = ""  # "drop" or "extra" for a wrong number of fields; "copy" for a duplicate


# `{asat}`, `{asat+1}`... are filled with the file's as-at date (plus days); `{year}` its year.
_BAD_ROWS = (
    _Spec("referrals", "WRONG_FIELD_COUNT", (), shape="drop"),
    _Spec("referrals", "WRONG_FIELD_COUNT", (), shape="extra"),
    _Spec("referrals", "MISSING_VALUE", ("crn",), {"crn": ""}),
    _Spec("referrals", "MISSING_VALUE", ("status",), {"status": ""}),
    _Spec("referrals", "INVALID_TYPE", ("referral_date",), {"referral_date": "{year}-13-45"}),
    _Spec(
        "referrals", "INVALID_TYPE", ("last_updated_at",), {"last_updated_at": "{asat-20} 10:00:00"}
    ),
    _Spec("referrals", "UNKNOWN_CODE", ("ldu_code",), {"ldu_code": "XX99"}),
    _Spec("referrals", "UNKNOWN_CODE", ("status",), {"status": "PENDING"}),
    _Spec("referrals", "INVALID_FORMAT", ("crn",), {"crn": "X12345"}),
    _Spec("referrals", "INVALID_FORMAT", ("referral_id",), {"referral_id": "RF1234567"}),
    _Spec(
        "referrals",
        "DATE_RULE",
        ("referral_date",),
        {"referral_date": "{asat+3}", "last_updated_at": "{asat}T10:00:00"},
    ),
    _Spec(
        "referrals",
        "DATE_RULE",
        ("start_date",),
        {"status": "ON_PROGRAMME", "start_date": "{asat-25}"},
    ),
    _Spec("referrals", "DATE_RULE", ("last_updated_at",), {"last_updated_at": "{asat+1}T09:00:00"}),
    _Spec("referrals", "DUPLICATE_KEY", ("referral_id",), shape="copy"),
    _Spec("completions", "WRONG_FIELD_COUNT", (), shape="drop"),
    _Spec("completions", "MISSING_VALUE", ("outcome",), {"outcome": ""}),
    _Spec("completions", "INVALID_TYPE", ("sessions_attended",), {"sessions_attended": "abc"}),
    _Spec("completions", "INVALID_TYPE", ("end_date",), {"end_date": "{year}-02-30"}),
    _Spec("completions", "UNKNOWN_CODE", ("outcome",), {"outcome": "FINISHED"}),
    _Spec("completions", "UNKNOWN_CODE", ("intervention_code",), {"intervention_code": "XYZ"}),
    _Spec("completions", "INVALID_FORMAT", ("referral_id",), {"referral_id": "RX12345678"}),
    _Spec("completions", "DATE_RULE", ("end_date",), {"end_date": "{asat-63}"}),
    _Spec("completions", "DATE_RULE", ("end_date",), {"end_date": "{asat+2}"}),
    _Spec("completions", "DATE_RULE", ("recorded_at",), {"recorded_at": "{asat+1}T08:00:00"}),
    _Spec("completions", "DUPLICATE_KEY", ("referral_id",), shape="copy"),
    _Spec("caseload", "WRONG_FIELD_COUNT", (), shape="extra"),
    _Spec("caseload", "MISSING_VALUE", ("date_of_birth",), {"date_of_birth": ""}),
    _Spec("caseload", "INVALID_TYPE", ("date_of_birth",), {"date_of_birth": "31/01/1990"}),
    _Spec("caseload", "UNKNOWN_CODE", ("ldu_code",), {"ldu_code": "XX99"}),
    _Spec("caseload", "UNKNOWN_CODE", ("gender",), {"gender": "M"}),
    _Spec("caseload", "INVALID_FORMAT", ("crn",), {"crn": "A12B456"}),
    _Spec("caseload", "DATE_RULE", ("snapshot_date",), {"snapshot_date": "{asat-1}"}),
    _Spec("caseload", "DUPLICATE_KEY", ("snapshot_date", "crn"), shape="copy"),
)
_LOWERCASE_ROWS = (
    _Spec("referrals", None, ("ldu_code",)),
    _Spec("referrals", None, ("status",)),
    _Spec("referrals", None, ("referral_id", "crn")),
    _Spec("referrals", None, ("intervention_code", "reoffending_band")),
    _Spec("completions", None, ("outcome",)),
    _Spec("completions", None, ("intervention_code", "crn")),
    _Spec("caseload", None, ("gender", "ethnicity_group")),
    _Spec("caseload", None, ("ldu_code", "crn")),
    _Spec("caseload", None, ("offence_category", "sentence_type")),
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


def _bad_line(spec: _Spec, reference: Reference, asat: str, serial: int) -> bytes:
    row = _valid_template(spec.extract, reference, asat, serial)
    for column, value in spec.change.items():
        row[column] = _fill(value, asat)
    values = [row[c] for c in EXTRACT_COLUMNS[spec.extract]]
    if spec.shape == "drop":
        values = values[:-1]
    elif spec.shape == "extra":
        values.append("EXTRA")
    return ",".join(values).encode()


def _plan_bad_rows(
    rng: np.random.Generator, window: _Window, row_counts: dict[str, np.ndarray]
) -> dict[tuple[str, int], list[_Spec]]:
    """Spread the bad rows and lower-case rows over random months' files.

    A duplicate or a lower-case row needs real rows to copy or change, so those move on to the
    next month whose file has enough of them.
    """
    planned: dict[tuple[str, int], list[_Spec]] = {}
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


@dataclass
class _Written:
    file_rows: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0
    bad_rows: list[dict[str, object]] = field(default_factory=list)
    lowercase_rows: list[dict[str, object]] = field(default_factory=list)


def _apply_plants(
    rng: np.random.Generator,
    lines: list[bytes],
    specs: list[_Spec],
    reference: Reference,
    asat: str,
    serial: int,
) -> tuple[list[bytes], list[tuple[int, _Spec]]]:
    """Change or insert the planted rows; return the lines and each plant's 0-based position.

    Lower-case rows and the originals of duplicates are distinct real rows; a duplicate is
    inserted after its original so that the original is the one that loads.
    """
    columns = EXTRACT_COLUMNS[specs[0].extract]
    tags: list[_Spec | None] = [None] * len(lines)
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


def _write_files(
    out_dir: Path,
    reference: Reference,
    window: _Window,
    population: _People,
    versions: _Versions,
    completions: _Completions,
    lines: _Lines,
    planned: dict[tuple[str, int], list[_Spec]],
    plant_rng: np.random.Generator,
    report: Callable[[str], None],
) -> _Written:
    """Write each month's three files in the contract's processing order.

    A few referrals and completions files are gzipped (months 7 and 10 of each year of the
    window) so that `.csv.gz` is exercised; gzip's header carries no name and no time.
    """
    written = _Written()
    bounds = {
        "referrals": np.searchsorted(versions.month, np.arange(window.months + 1)),
        "completions": np.searchsorted(completions.month, np.arange(window.months + 1)),
    }
    serial = 0
    for k in range(window.months):
        asat = window.as_at(k)
        day = int(window.month_end_days[k])
        for extract in EXTRACTS:
            if extract == "caseload":
                index = np.flatnonzero(population.active(day))
                text = lines.caseload[0][index]
                changed = population.change_day[index] <= day
                text[changed] = lines.caseload[1][index[changed]]
                prefix = asat.encode() + b","
            else:
                source = getattr(lines, extract)
                text = source[bounds[extract][k] : bounds[extract][k + 1]]
                prefix = b""
            specs = planned.get((extract, k), [])
            gzipped = (extract == "referrals" and k % 12 == 6) or (
                extract == "completions" and k % 12 == 9
            )
            name = f"{extract}_{asat}.csv" + (".gz" if gzipped else "")
            header = ",".join(EXTRACT_COLUMNS[extract]).encode() + b"\n"
            if specs:
                rows = [prefix + line for line in text.tolist()]
                rows, placed = _apply_plants(plant_rng, rows, specs, reference, asat, serial)
                serial += len(specs)
                _record_plants(written, name, placed)
                body = b"\n".join(rows) + b"\n" if rows else b""
            else:
                rows_list = text.tolist()
                body = (prefix + (b"\n" + prefix).join(rows_list) + b"\n") if rows_list else b""
                rows = rows_list
            data = header + body
            if gzipped:
                data = gzip.compress(data, compresslevel=6, mtime=0)
            (out_dir / name).write_bytes(data)
            written.file_rows[name] = len(rows)
            written.bytes_written += len(data)
        if (k + 1) % 12 == 0 or k + 1 == window.months:
            report(
                f"written: {k + 1} of {window.months} months "
                f"({written.bytes_written / 1e6:,.0f} MB)"
            )
    return written


def _record_plants(written: _Written, name: str, placed: list[tuple[int, _Spec]]) -> None:
    for position, spec in placed:
        line = position + 2  # the header is line 1
        if spec.reason_code is None:
            written.lowercase_rows.append(
                {"file": name, "line": line, "columns": list(spec.columns)}
            )
        else:
            written.bad_rows.append(
                {
                    "file": name,
                    "line": line,
                    "reason_code": spec.reason_code,
                    "extract": spec.extract,
                    "columns": list(spec.columns),
                }
            )


# ---------------------------------------------------------------------------------------------
# Ground truth
# ---------------------------------------------------------------------------------------------


def _ground_truth(
    reference: Reference,
    window: _Window,
    plan: _Plan,
    written: _Written,
    plants: _Plants,
    referrals: _Referrals,
    versions: _Versions,
    completions: _Completions,
    life: _LifeCycle,
    population: _People,
    parameters: dict[str, object],
) -> dict[str, object]:
    """What the warehouse should find, in the terms of METRICS.md and EXTRACTS.md."""
    years = window.full_financial_years()
    trap_people = population.ldu == plan.trap_ldu
    trap_share = np.bincount(population.band[trap_people], minlength=len(BANDS))
    other_share = np.bincount(population.band[~trap_people], minlength=len(BANDS))
    code = reference.intervention_codes[plan.trap_intervention]
    propensity = _REFERRAL_PROBABILITY.get(code, _DEFAULT_REFERRAL_PROBABILITY)
    eligible_bands = reference.eligible[plan.trap_intervention].any(axis=0)
    return {
        "parameters": parameters,
        "window": {
            "first_month": window.label(0),
            "last_month": window.label(window.months - 1),
            "first_as_at_date": window.as_at(0),
            "last_as_at_date": window.as_at(window.months - 1),
            "full_financial_years": years,
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


def _shares(counts: np.ndarray) -> dict[str, float]:
    total = max(int(counts.sum()), 1)
    return {band: round(int(c) / total, 3) for band, c in zip(BANDS, counts, strict=True)}


def _planted_counts(
    plants: _Plants,
    referrals: _Referrals,
    versions: _Versions,
    completions: _Completions,
    life: _LifeCycle,
    window: _Window,
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
    stale_due = life.end + 28 <= window.last_day
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
        & np.isin(current_status, _REASONED_STATUSES)
        & (latest >= 0),
        "NOT_ON_CASELOAD": kind["WRONG_LDU"] & sent,
        "RESTATED_COMPLETIONS": kind["RESTATED"] & ended & restated_rows,
    }
    out: dict[str, object] = {name: int(mask.sum()) for name, mask in counts.items()}
    out["note"] = (
        "referrals (completions, for ORPHAN_COMPLETION and RESTATED_COMPLETIONS) planted and "
        "delivered; STALE_STATUS only where the ending is 28+ days before the last snapshot"
    )
    return out
