"""A small warehouse in the published shape of everything the report reads, with known figures.

The report's tests build against this instead of a full pipeline run: the marts of docs/metrics.md,
`audit`, and the report's own tables in `reporting`. Every table the fixture writes takes its
columns and types from the dbt project's contracts (the `data_type`s of the models' YAML, read
from the manifest `dbt parse` writes), and the fixture must fill every one of them and no other:
a column renamed, added or dropped in the YAML fails the fixture. Counts are drawn at random
from a seed; quarters and years are their sums and rates come from the sums, as docs/metrics.md
defines them. What cannot be faked is not: the consistency flags and funnel limits come from
`orchestration.statistics.flags` (the functions the marts use), and the `reporting` models that
carry the report's rules (current periods and findings, the LDUs' year to date, the recording
checks' words, disclosure control) are built by the real dbt models from the fixture's marts.
The tables are written to the build schemas and published by `publish_marts`, as a refresh does.

One anomaly is planted so the consistency page has something to show: PLANTED_LDU completes
PLANTED_INTERVENTION far less often than the division.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.core.warehouse import ensure_schema
from orchestration.statistics import flags as stats
from orchestration.transformation.publish import PUBLISHED_SCHEMAS, publish_marts

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
DBT_PROJECT = REPO / "dbt_project"

PLANTED_LDU = "WM03"
PLANTED_INTERVENTION = "TSP"

#: The reporting models the fixture builds with dbt (and their seeds), from the fixture's marts.
REPORTING_MODELS = (
    "diversity_groups",
    "diversity_table_counts",
    "diversity_count_suppression",
    "diversity_table_cells",
    "current_periods",
    "current_findings",
    "ldu_year_to_date",
    "division_headline",
    "division_monthly",
    "ldu_position",
    "recording_checks",
    "recording_check_counts",
    "target_rag_counts",
)

#: Each dimension's groups (docs/contract.md, plus UNKNOWN) and their share of people. OTHER and
#: NOT_KNOWN are rare on purpose: their cells are small, so disclosure control has work to do.
GROUP_SHARES = {
    "GENDER": {"MALE": 0.83, "FEMALE": 0.13, "OTHER": 0.004, "NOT_KNOWN": 0.012, "UNKNOWN": 0.024},
    "ETHNICITY_GROUP": {
        "ASIAN": 0.08,
        "BLACK": 0.07,
        "MIXED": 0.03,
        "WHITE": 0.76,
        "OTHER": 0.012,
        "NOT_STATED": 0.03,
        "UNKNOWN": 0.018,
    },
    "AGE_BAND": {
        "UNDER_18": 0.004,
        "18-24": 0.2,
        "25-34": 0.36,
        "35-49": 0.32,
        "50+": 0.1,
        "UNKNOWN": 0.016,
    },
}

DATA_QUALITY_CHECKS = (
    "ORPHAN_COMPLETION",
    "INTERVENTION_MISMATCH",
    "STALE_STATUS",
    "START_BEFORE_REFERRAL",
    "SESSIONS_OVER_REQUIRED",
    "INELIGIBLE_REFERRAL",
    "OUTSIDE_VALIDITY",
    "MISSING_REASON",
    "NOT_ON_CASELOAD",
)


def read_seed(name: str) -> list[dict[str, str]]:
    """Rows of one of the project's seed files."""
    with (SEEDS / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def month_start(first_month: str, offset: int) -> dt.date:
    """The first day of the month `offset` months after `first_month` (YYYY-MM)."""
    year, month = (int(part) for part in first_month.split("-"))
    index = year * 12 + (month - 1) + offset
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(start: dt.date) -> dt.date:
    """The last day of the month that starts on `start`."""
    return month_start(start.strftime("%Y-%m"), 1) - dt.timedelta(days=1)


def financial_year_of(day: dt.date) -> int:
    """The calendar year in which the financial year holding `day` starts."""
    return day.year if day.month >= 4 else day.year - 1


def periods_of(month: dt.date) -> list[tuple[str, str, dt.date, dt.date]]:
    """The MONTH, QUARTER and YEAR periods (docs/metrics.md labels) that contain a month."""
    fy = financial_year_of(month)
    fy_label = f"{fy}-{(fy + 1) % 100:02d}"
    quarter = ((month.month - 4) % 12) // 3 + 1
    q_start = month_start(f"{fy}-04", 3 * (quarter - 1))
    q_end = month_end(month_start(f"{fy}-04", 3 * quarter - 1))
    return [
        ("MONTH", month.strftime("%Y-%m"), month, month_end(month)),
        ("QUARTER", f"{fy_label} Q{quarter}", q_start, q_end),
        ("YEAR", fy_label, dt.date(fy, 4, 1), dt.date(fy + 1, 3, 31)),
    ]


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return scale * numerator / denominator if denominator else None


def _split(rng: random.Random, total: int, shares: dict[str, float]) -> dict[str, int]:
    """Share `total` people or events among groups at random (a multinomial draw)."""
    counts = dict.fromkeys(shares, 0)
    for group in rng.choices(list(shares), weights=list(shares.values()), k=int(total)):
        counts[group] += 1
    return counts


def _rag(measure: str, actual: float | None, target: float | None, to_date: float | None) -> str:
    """The first rule of docs/metrics.md (performance_against_target) that applies."""
    if target is None:
        return "NO_TARGET"
    if actual is None:
        return "NO_DATA"
    if actual >= to_date - 1e-9:
        return "GREEN"
    is_rate = measure in ("COMPLETION_RATE", "TIMELY_START_RATE")
    amber_floor = target - 0.05 if is_rate else 0.9 * to_date
    return "AMBER" if actual >= amber_floor - 1e-9 else "RED"


@dataclass(frozen=True)
class Drawn:
    """The fixture's figures before they are written, kept for the tables derived from them."""

    months: list[dt.date]
    spans: dict[tuple[str, str], tuple[dt.date, dt.date]]
    measures: pd.DataFrame


def _draw_measures(first_month: str, n_months: int, rng: random.Random) -> Drawn:
    ldus = read_seed("ldus.csv")
    interventions = read_seed("interventions.csv")
    months = [month_start(first_month, i) for i in range(n_months)]
    reporting_month_end = month_end(months[-1])

    totals: dict[tuple[str, str, str, str], dict[str, float]] = {}
    spans: dict[tuple[str, str], tuple[dt.date, dt.date]] = {}
    size = {ldu["ldu_code"]: rng.uniform(0.5, 1.6) for ldu in ldus}
    volume = {i["intervention_code"]: rng.uniform(2.0, 14.0) for i in interventions}
    for month in months:
        for ldu in ldus:
            for intervention in interventions:
                code = intervention["intervention_code"]
                base = size[ldu["ldu_code"]] * volume[code]
                referrals = max(0, round(rng.gauss(base, base**0.5)))
                starts = max(0, round(referrals * rng.uniform(0.55, 0.85)))
                endings = max(0, round(starts * rng.uniform(0.7, 1.1)))
                planted = ldu["ldu_code"] == PLANTED_LDU and code == PLANTED_INTERVENTION
                completion_share = rng.uniform(0.15, 0.3) if planted else rng.uniform(0.5, 0.75)
                completions = round(endings * completion_share)
                drawn = {
                    "eligible_caseload": round(base * rng.uniform(9, 12)),
                    "referrals": referrals,
                    "starts": starts,
                    "completions": completions,
                    "non_completions": endings - completions,
                    "timely_starts": round(starts * rng.uniform(0.6, 0.95)),
                    "days_x_starts": starts * rng.uniform(20, 70),
                }
                for period_type, period, start, end in periods_of(month):
                    spans[(period_type, period)] = (start, end)
                    key = (period_type, period, ldu["ldu_code"], code)
                    acc = totals.setdefault(key, dict.fromkeys(drawn, 0.0) | {"caseload_max": 0})
                    for name, value in drawn.items():
                        acc[name] += value
                    acc["caseload_max"] = max(acc["caseload_max"], drawn["eligible_caseload"])

    rows = []
    for (period_type, period, ldu_code, intervention_code), acc in totals.items():
        start, end = spans[(period_type, period)]
        caseload = round(acc["caseload_max"] * (1.0 if period_type == "MONTH" else 1.4))
        endings = acc["completions"] + acc["non_completions"]
        rows.append(
            {
                "period_type": period_type,
                "period": period,
                "period_start": start,
                "period_end": end,
                "is_partial": end > reporting_month_end,
                "ldu_code": ldu_code,
                "intervention_code": intervention_code,
                "eligible_caseload": caseload,
                "referrals": int(acc["referrals"]),
                "referral_rate": _ratio(acc["referrals"], caseload, 100.0),
                "starts": int(acc["starts"]),
                "completions": int(acc["completions"]),
                "non_completions": int(acc["non_completions"]),
                "completion_rate": _ratio(acc["completions"], endings),
                "timely_starts": int(acc["timely_starts"]),
                "timely_start_rate": _ratio(acc["timely_starts"], acc["starts"]),
                "median_days_to_start": _ratio(acc["days_x_starts"], acc["starts"]),
            }
        )
    return Drawn(months=months, spans=spans, measures=pd.DataFrame(rows))


def _division(measures: pd.DataFrame) -> pd.DataFrame:
    keys = [
        "period_type", "period", "period_start", "period_end", "is_partial", "intervention_code"
    ]
    counts = ["eligible_caseload", "referrals", "starts", "completions", "non_completions",
              "timely_starts"]
    frame = measures.assign(days=measures["median_days_to_start"].fillna(0) * measures["starts"])
    division = frame.groupby(keys, as_index=False)[[*counts, "days"]].sum()
    # A person in two LDUs counts once in the division's eligible caseload.
    division["eligible_caseload"] = (division["eligible_caseload"] * 0.97).round().astype(int)
    endings = division["completions"] + division["non_completions"]
    division["referral_rate"] = 100 * division["referrals"] / division["eligible_caseload"]
    division["completion_rate"] = division["completions"] / endings.where(endings > 0)
    division["timely_start_rate"] = division["timely_starts"] / division["starts"].where(
        division["starts"] > 0
    )
    division["median_days_to_start"] = division["days"] / division["starts"].where(
        division["starts"] > 0
    )
    return division[[*keys, "eligible_caseload", "referrals", "referral_rate", "starts",
                     "completions", "non_completions", "completion_rate", "timely_starts",
                     "timely_start_rate", "median_days_to_start"]]


def _diversity(division: pd.DataFrame, rng: random.Random) -> pd.DataFrame:
    rows = []
    years = division[division["period_type"] == "YEAR"]
    for year in years.itertuples():
        completions_share = {}
        for dimension, shares in GROUP_SHARES.items():
            caseload = _split(rng, year.eligible_caseload, shares)
            referrals = _split(rng, year.referrals, shares)
            completions = _split(rng, year.completions, shares)
            non_completions = _split(rng, year.non_completions, shares)
            completions_share[dimension] = completions
            for order, group in enumerate(shares, start=1):
                endings = completions[group] + non_completions[group]
                rows.append(
                    {
                        "period_type": "YEAR",
                        "period": year.period,
                        "period_start": year.period_start,
                        "period_end": year.period_end,
                        "is_partial": year.is_partial,
                        "intervention_code": year.intervention_code,
                        "dimension": dimension,
                        "group_value": group,
                        "display_order": order,
                        "eligible_caseload": caseload[group],
                        "referrals": referrals[group],
                        "referral_rate": _ratio(referrals[group], caseload[group], 100.0),
                        "completions": completions[group],
                        "non_completions": non_completions[group],
                        "completion_rate": _ratio(completions[group], endings),
                    }
                )
    return pd.DataFrame(rows)


def _targets(measures: pd.DataFrame, reporting_month: dt.date, rng: random.Random) -> pd.DataFrame:
    rows = []
    years = measures[measures["period_type"] == "YEAR"]
    for row in years.itertuples():
        start = row.period_start
        finished = row.period_end <= month_end(reporting_month)
        months_to_date = 12 if finished else (
            (reporting_month.year - start.year) * 12 + reporting_month.month - start.month + 1
        )
        endings = row.completions + row.non_completions
        actuals = {
            "STARTS": float(row.starts),
            "COMPLETIONS": float(row.completions),
            "COMPLETION_RATE": row.completions / endings if endings else None,
            "TIMELY_START_RATE": row.timely_starts / row.starts if row.starts else None,
        }
        # A few combinations have no target, so NO_TARGET shows up in the matrix.
        no_target = row.ldu_code == "EM07" and row.intervention_code == "DID"
        for measure, actual in actuals.items():
            if no_target:
                target = None
            elif measure in ("STARTS", "COMPLETIONS"):
                yearly = actual * 12 / months_to_date
                target = float(max(1, round(yearly * rng.uniform(0.85, 1.25))))
            else:
                target = 0.6 if measure == "COMPLETION_RATE" else 0.8
            to_date = None
            if target is not None:
                is_count = measure in ("STARTS", "COMPLETIONS")
                to_date = target * months_to_date / 12 if is_count else target
            pct = actual / to_date if actual is not None and to_date else None
            rows.append(
                {
                    "financial_year": row.period,
                    "ldu_code": row.ldu_code,
                    "intervention_code": row.intervention_code,
                    "measure": measure,
                    "actual": actual,
                    "target": target,
                    "target_to_date": to_date,
                    "pct_of_target": pct,
                    "rag": _rag(measure, actual, target, to_date),
                    "period_start": row.period_start,
                    "period_end": row.period_end,
                    "is_partial": row.is_partial,
                    "months_elapsed": months_to_date,
                }
            )
    return pd.DataFrame(rows)


def _flags(measures: pd.DataFrame) -> pd.DataFrame:
    """Consistency flags from the statistics module, for the YEAR and QUARTER periods."""
    judged = measures[measures["period_type"].isin(["YEAR", "QUARTER"])]
    keys = ["period_type", "period", "intervention_code", "ldu_code", "period_start",
            "period_end", "is_partial"]
    completion = judged[keys].assign(
        measure="COMPLETION_RATE",
        numerator=judged["completions"],
        denominator=judged["completions"] + judged["non_completions"],
    )
    timely = judged[keys].assign(
        measure="TIMELY_START_RATE", numerator=judged["timely_starts"], denominator=judged["starts"]
    )
    # Indirect standardisation with a single stratum: E = caseload × the division's rate.
    group = ["period_type", "period", "intervention_code"]
    rate = judged.groupby(group)["referrals"].transform("sum") / judged.groupby(group)[
        "eligible_caseload"
    ].transform("sum")
    ratio = judged[keys].assign(
        measure="REFERRAL_RATIO",
        numerator=judged["referrals"].astype(float),
        denominator=judged["eligible_caseload"] * rate,
    )
    frame = pd.concat([completion, timely, ratio], ignore_index=True)
    frame = frame.sort_values(["period_type", "period", "intervention_code", "measure", "ldu_code"])
    periods = ["period_start", "period_end", "is_partial"]
    return stats.consistency_flags(
        frame[[*stats.INPUT_COLUMNS, *periods]].reset_index(drop=True)
    )


def _data_quality(months: list[dt.date], rng: random.Random) -> pd.DataFrame:
    ldus = [row["ldu_code"] for row in read_seed("ldus.csv")]
    rows = []
    serial = 100000
    for month in months:
        for check in DATA_QUALITY_CHECKS:
            for ldu in ldus if check != "ORPHAN_COMPLETION" else [None]:
                if rng.random() > 0.12:
                    continue
                count = rng.randint(1, 9)
                ids = [f"R{serial + i:07d}" for i in range(min(count, 5))]
                serial += 1000
                rows.append((check, ldu, month.strftime("%Y-%m"), count, ids))
    return pd.DataFrame(
        rows, columns=["check_code", "ldu_code", "period", "record_count", "example_referral_ids"]
    )


def _audit(con: duckdb.DuckDBPyConnection, months: list[dt.date]) -> None:
    ensure_schema(con)
    load_id = 0
    loads = []
    quarantined = []
    for month in months:
        as_at = month_end(month) + dt.timedelta(days=3)
        for extract, rows_read in (("caseload", 2400), ("referrals", 310), ("completions", 190)):
            load_id += 1
            bad = 2 if extract == "referrals" and month.month % 3 == 0 else 0
            name = f"{extract}_{as_at.isoformat()}.csv"
            loads.append((load_id, name, extract, as_at, f"{load_id:064x}", "LOADED", rows_read,
                          rows_read - bad, bad, None, dt.datetime.combine(as_at, dt.time(6))))
            for line in range(bad):
                quarantined.append((load_id, name, extract, 17 + 40 * line,
                                    "DATE_RULE" if line else "UNKNOWN_CODE",
                                    "referral_date is after the as-at date" if line
                                    else "intervention_code 'TSPX' is not in the reference list"))
    last = month_end(months[-1]) + dt.timedelta(days=3)
    load_id += 1
    loads.append((load_id, f"completions_{last.isoformat()}_resent.csv", None, None,
                  f"{load_id:064x}", "REJECTED", None, None, None,
                  "not UTF-8 at byte 1,204: re-export the file as UTF-8 and deliver it again",
                  dt.datetime.combine(last, dt.time(6, 5))))
    con.executemany(
        "insert into audit.loads (load_id, file_name, extract, as_at_date, sha256, status,"
        " rows_read, rows_loaded, rows_quarantined, message, loaded_at)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        loads,
    )
    con.executemany(
        "insert into audit.quarantined_rows (load_id, file_name, extract, line_number,"
        " reason_code, message) values (?, ?, ?, ?, ?, ?)",
        quarantined,
    )


@dataclass(frozen=True)
class Contract:
    """A published model's relation and its declared columns, from the dbt manifest."""

    schema: str
    relation: str
    columns: tuple[tuple[str, str], ...]  # (name, data_type), in the YAML's order


def _dbt(args: list[str], warehouse: Path, work_dir: Path) -> None:
    """Run dbt on the fixture warehouse, with its target and logs kept out of the repository."""
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "ICW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    done = subprocess.run(
        [str(dbt), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
         "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")],
        cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dbt {args[0]} for the fixture failed:\n{done.stdout[-4000:]}")


def read_contracts(warehouse: Path, work_dir: Path) -> dict[str, Contract]:
    """Every published model's columns and types, as the dbt project declares them.

    Runs `dbt parse` and reads its manifest: a model of `marts_build` or `reporting_build` whose
    YAML gives each column a `data_type` (the marts' enforced contracts, and the reporting
    models'). Keyed by model name.
    """
    _dbt(["parse", "--quiet"], warehouse, work_dir)
    manifest = json.loads((work_dir / "target" / "manifest.json").read_text(encoding="utf-8"))
    contracts = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["schema"] not in PUBLISHED_SCHEMAS:
            continue
        columns = tuple((c["name"], c.get("data_type")) for c in node["columns"].values())
        if columns and all(type_ for _, type_ in columns):
            contracts[node["name"]] = Contract(node["schema"], node["alias"], columns)
    return contracts


def _write_table(
    con: duckdb.DuckDBPyConnection, contract: Contract, frame: pd.DataFrame
) -> None:
    """Create a table in its contract's shape and fill it from `frame`, column for column.

    The frame must have every declared column and no other, so that a column renamed, added or
    dropped in the dbt YAML fails here, where the fixture has to follow it.
    """
    declared = [name for name, _ in contract.columns]
    missing = [name for name in declared if name not in frame.columns]
    extra = [name for name in frame.columns if name not in declared]
    if missing or extra:
        raise ValueError(
            f"{contract.schema}.{contract.relation}: the fixture lacks declared columns "
            f"{missing} and has undeclared columns {extra}; follow the model's YAML"
        )
    table = f"{contract.schema}.{contract.relation}"
    con.execute(
        f"create table {table} ("
        + ", ".join(f"{name} {type_}" for name, type_ in contract.columns)
        + ")"
    )
    con.register("frame_to_write", frame)
    con.execute(
        f"insert into {table} select "
        + ", ".join(f"cast({name} as {type_})" for name, type_ in contract.columns)
        + " from frame_to_write"
    )
    con.unregister("frame_to_write")


def run_dbt_reporting(warehouse: Path, work_dir: Path) -> None:
    """Build the report's `reporting` models with the project's own dbt models.

    Runs `dbt build` (models, data tests and unit tests) for REPORTING_MODELS only, against the
    fixture warehouse, with dbt's target and logs kept out of the repository. Only the tests
    whose every parent is selected run (`cautious`): the fixture has no staging layer.
    """
    _dbt(["build", "--select", *REPORTING_MODELS, "--indirect-selection", "cautious"],
         warehouse, work_dir)


#: The fixture's `what_changed`: PLANTED_LDU's current findings are all new, and
#: WHAT_CHANGED_REVISIONS of its monthly referrals and starts moved, each by a different share
#: (+5 %, +10 %, ... +5 % x WHAT_CHANGED_REVISIONS), all from late records. A finding of
#: RETIRED_INTERVENTION, an intervention no longer in the reference list, cleared.
WHAT_CHANGED_REVISIONS = 24
RETIRED_INTERVENTION = "RETIRED1"


def _what_changed(
    con: duckdb.DuckDBPyConnection, months: list[dt.date], reporting_month: dt.date
) -> pd.DataFrame:
    """A second month's `reporting.what_changed`, against the month before as the baseline."""
    month = reporting_month.strftime("%Y-%m")
    baseline = months[-2].strftime("%Y-%m")
    findings = con.execute(
        "select period_type, period, intervention_code, measure, level, direction, value "
        "from reporting_build.current_findings where ldu_code = ? order by all",
        [PLANTED_LDU],
    ).fetchall()
    rows = [
        {"change_kind": "FINDING_NEW", "ldu_code": PLANTED_LDU, "intervention_code": code,
         "measure": measure, "period_type": period_type, "period_now": period,
         "level_now": level, "direction": direction, "consecutive_quarters": 0,
         "value_now": value}
        for period_type, period, code, measure, level, direction, value in findings
    ]
    rows.append(
        {"change_kind": "FINDING_CLEARED", "ldu_code": PLANTED_LDU,
         "intervention_code": RETIRED_INTERVENTION, "measure": "COMPLETION_RATE",
         "period_type": "YEAR", "period_before": f"{months[0].year - 1}-{months[0].year % 100:02d}",
         "level_before": "ALERT", "direction": "LOW", "consecutive_quarters": 0,
         "value_before": 0.4}
    )
    for k in range(1, WHAT_CHANGED_REVISIONS + 1):
        period = months[(k - 1) % (len(months) - 1)].strftime("%Y-%m")
        before, now = 20.0, 20.0 + k
        rows.append(
            {"change_kind": "FIGURE_REVISED", "ldu_code": PLANTED_LDU,
             "intervention_code": PLANTED_INTERVENTION,
             "measure": "REFERRALS" if k % 2 else "STARTS", "period_type": "MONTH",
             "period_now": period, "period_before": period, "value_before": before,
             "value_now": now, "change": now - before, "change_pct": 100 * (now - before) / before,
             "reason": "LATE", "late_records": k, "restated_records": 0}
        )
    rows.append(
        {"change_kind": "FIGURE_REVISED", "ldu_code": None,
         "intervention_code": PLANTED_INTERVENTION, "measure": "COMPLETION_RATE",
         "period_type": "MONTH", "period_now": baseline, "period_before": baseline,
         "value_before": 0.5, "value_now": 0.55, "change": 0.05, "change_pct": 10.0,
         "reason": "RESTATED", "late_records": 0, "restated_records": 3}
    )
    frame = pd.DataFrame(rows)
    frame["reporting_month"] = month
    frame["baseline_reporting_month"] = baseline
    frame["baseline_published_at"] = dt.datetime.combine(months[-1], dt.time(9))
    for column in ("period_before", "level_before", "level_now", "direction",
                   "consecutive_quarters", "value_before", "change", "change_pct", "reason",
                   "late_records", "restated_records", "value_now"):
        if column not in frame:
            frame[column] = None
    return frame


def write_fixture_warehouse(
    path: Path,
    first_month: str = "2024-08",
    n_months: int = 14,
    seed: int = 1,
    with_measures: bool = True,
    with_reporting: bool = True,
) -> None:
    """Write the fixture warehouse at `path` (replacing it).

    `with_measures=False` leaves out `marts.ldu_intervention_measures`, to make a build fail;
    `with_reporting=False` builds no dbt model (no `reporting` table but `funnel_limits`), for
    tests that need no working report. The contracts are read from `dbt parse` either way.
    """
    rng = random.Random(seed)
    drawn = _draw_measures(first_month, n_months, rng)
    measures = drawn.measures
    reporting_month = drawn.months[-1]
    division = _division(measures)
    diversity = _diversity(division, rng)
    targets = _targets(measures, reporting_month, rng)
    flags = _flags(measures)
    limits = stats.funnel_limit_grid(flags)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    dbt_work = path.parent / f".{path.stem}-dbt"
    contracts = read_contracts(path, dbt_work)
    spans = pd.DataFrame(
        [
            {"period_type": t, "period": p, "period_start": s, "period_end": e,
             "is_partial": e > month_end(reporting_month)}
            for (t, p), (s, e) in drawn.spans.items()
        ]
    )
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts_build")
        con.execute("create schema reporting_build")
        seeds = {
            name: con.execute(f"select * from read_csv('{SEEDS / name}.csv')").df()
            for name in ("ldus", "interventions")
        }
        tables = {
            "mart_ldus": seeds["ldus"],
            "mart_interventions": seeds["interventions"],
            "periods": spans,
            "division_intervention_measures": division,
            "division_diversity_measures": diversity,
            "performance_against_target": targets,
            "consistency_flags": flags,
            "data_quality_issues": _data_quality(drawn.months, rng),
            "funnel_limits": limits,
        }
        if with_measures:
            tables["ldu_intervention_measures"] = measures
        for model, frame in tables.items():
            _write_table(con, contracts[model], frame)
        _audit(con, drawn.months)
        con.execute("checkpoint")

    if with_reporting:
        run_dbt_reporting(path, dbt_work)
        # what_changed reads the staging layer, which the fixture has not: written as a second
        # month's report would find it (WHAT_CHANGED_* say what to look for)
        with duckdb.connect(str(path)) as con:
            changes = _what_changed(con, drawn.months, reporting_month)
            _write_table(con, contracts["what_changed"], changes)

    with duckdb.connect(str(path)) as con:
        publish_marts(con)
        con.execute("checkpoint")
