"""Synthetic monthly extracts with known answers, for the demo, the tests and the benchmarks.

Why this exists: the warehouse has to be shown and tested on data that has the shape and the
faults of real deliveries (turnover on the caseload, referral life cycles re-sent as they change,
restated completions, recording errors and malformed rows) and whose right answers are known:
anomalies planted strongly enough that the consistency funnel must flag them, a case-mix trap that
only indirect standardisation gets right, and a list of every malformed row with the reason code
the contract gives it. All of that is written to `ground_truth.json` beside the extracts.
This module runs the steps in order; each lives in its own module of `orchestration.demo`.

Everything is drawn with numpy in whole-array operations (the only Python loops run over months,
interventions and the few planted rows), and the CSV text is assembled with numpy's string
functions rather than a CSV writer, so that a national window (240,000 people, 36 months, about a
gigabyte of CSV) is written in well under two minutes. The same seed always gives byte-identical
files; compressed files carry no timestamp for that reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestration.demo.bad_rows import plan_bad_rows
from orchestration.demo.deliveries import completion_rows, referral_versions, row_counts
from orchestration.demo.effects import plan_effects
from orchestration.demo.ground_truth import ground_truth
from orchestration.demo.life_cycles import draw_life_cycles
from orchestration.demo.lines import Lines, caseload_lines, completion_lines, referral_lines
from orchestration.demo.people import draw_people
from orchestration.demo.recording_problems import plant_recording_problems
from orchestration.demo.reference import load_reference
from orchestration.demo.referrals import draw_referrals
from orchestration.demo.vocabulary import EXTRACTS
from orchestration.demo.window import Window
from orchestration.demo.writing import write_files


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
    window = Window.from_start(start, months)
    rng = np.random.default_rng(seed)

    plan = plan_effects(rng, reference)
    population = draw_people(rng, reference, window, people, plan)
    report(f"people: {population.size:,} supervised over the window and its run-in")
    referrals = draw_referrals(rng, reference, population, window, plan)
    report(f"referrals: {referrals.size:,} drawn ({int(referrals.ineligible.sum()):,} ineligible)")
    life = draw_life_cycles(rng, reference, population, referrals, plan)
    plants = plant_recording_problems(rng, reference, population, referrals, life, window)
    report(f"life cycles: {int(life.started.sum()):,} starts; recording problems planted")
    versions = referral_versions(referrals, life, plants, window)
    completions = completion_rows(referrals, life, window)
    report(f"deliveries: {versions.size:,} referral versions, {completions.size:,} completion rows")

    lines = Lines(
        caseload=caseload_lines(reference, population),
        referrals=referral_lines(reference, population, referrals, life, versions),
        completions=completion_lines(reference, population, referrals, life, plants, completions),
    )
    report("text: every caseload, referral and completion line built")
    rows_by_month = row_counts(population, versions, completions, window)
    bad_plan = plan_bad_rows(rng, window, rows_by_month)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = write_files(
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
    truth = ground_truth(
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
