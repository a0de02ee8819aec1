"""make bench: ICW against the floor (plain DuckDB), at division and national scale.

For each scale: generate 37 months of extracts (36 for the full refresh, the 37th for a monthly
refresh), then, three times each, reporting medians:
  (a) the floor: bench/floor.py, plain read_csv + SQL for the measures of every period type;
  (b) `icw refresh --no-report` from an empty warehouse;
  (c) a monthly refresh: that warehouse plus one new month of extracts;
  (d) time per stage (from $ICW_HOME/last_run.json) and Dagster's own overhead, and `icw report`
      (site and PDF) at the --report-scales;
  (e) peak memory: the RSS of the whole process tree, sampled every 0.1 s;
  (f) ingestion throughput next to DuckDB's plain CREATE TABLE AS SELECT * FROM read_csv(...).
The floor is checked against marts.ldu_intervention_measures cell by cell: a floor that
computes something else would flatter nobody.

Usage: python bench/run.py [--scales division,national] [--reps 3] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
SCALES = {"division": 17000, "national": 240000}
MONTHS = 36
BIN = Path(sys.executable).parent


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1]) * 1024
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def measure(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    """Run cmd, return (wall seconds, peak RSS of its process tree); fail loudly on error."""
    peak = 0
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(proc.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({code}); see {log}")
    return seconds, peak


def extract_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.split("_")[0] in
                  {"caseload", "referrals", "completions"})


def generate(scale: str, people: int, out: Path) -> tuple[Path, list[Path], list[Path]]:
    folder = out / scale / "extracts"
    marker = folder / "ground_truth.json"
    want = {"people": people, "months": MONTHS + 1, "start": "2023-10", "seed": 1}
    if not (marker.exists() and json.loads(marker.read_text())["parameters"] == want):
        shutil.rmtree(folder, ignore_errors=True)
        print(f"[{scale}] generating {people:,} people x {MONTHS + 1} months", flush=True)
        subprocess.run([str(BIN / "icw"), "generate", "--out", str(folder), "--people",
                        str(people), "--months", str(MONTHS + 1)], check=True)
    files = extract_files(folder)
    last_month = max(p.name.split("_")[1][:7] for p in files)
    full = [p for p in files if not p.name.split("_")[1].startswith(last_month)]
    extra = [p for p in files if p.name.split("_")[1].startswith(last_month)]
    return folder, full, extra


def icw_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICW_")}
    env.update(ICW_HOME=str(home), DAGSTER_HOME=str(home / "dagster"),
               ICW_PSEUDONYMISATION_KEY="benchmark-key")
    return env


def plain_read_csv(files: list[Path]) -> float:
    """Seconds for DuckDB's CREATE TABLE AS SELECT * FROM read_csv of each file.

    The dialect is given (the sniffer gives up on files with the planted malformed lines) and
    bad lines are skipped: plain DuckDB, typed by its own detection, with no contract at all.
    """
    con = duckdb.connect(":memory:")
    started = time.perf_counter()
    for i, f in enumerate(files):
        con.execute(
            f"create table t{i} as select * from read_csv(?, delim = ',', quote = '\"', "
            "escape = '\"', header = true, ignore_errors = true)",
            [str(f)],
        )
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def compare_floor(floor_db: Path, warehouse: Path) -> str:
    """Cell-by-cell comparison of the floor's rows (every period type) with the published marts."""
    con = duckdb.connect(str(floor_db), read_only=True)
    con.execute(f"attach '{warehouse}' as w (read_only)")
    columns = ["eligible_caseload", "referrals", "starts", "completions", "non_completions",
               "timely_starts", "median_days_to_start"]
    diffs = con.execute(
        f"""
        select count(*) from floor_measures f
        full join w.marts.ldu_intervention_measures m
            using (period_type, period, ldu_code, intervention_code)
        where {' or '.join(f'f.{c} is distinct from m.{c}' for c in columns)}
        """
    ).fetchone()[0]
    rows = con.execute("select count(*) from floor_measures").fetchone()[0]
    con.close()
    if diffs == 0:
        return f"matches the marts ({rows} MONTH, QUARTER and YEAR rows x {len(columns)} measures)"
    return f"DIFFERS from the marts in {diffs} of {rows} rows"


def run_profile(home: Path) -> dict:
    """What the last refresh in home spent its events and dbt's time on.

    Dagster's event count comes from the run's SQLite event log; dbt's slowest nodes from the
    run's run_results.json (dagster-dbt names the run's target folder after the run id).
    """
    runs = sorted((p for p in (home / "dagster" / "history" / "runs").glob("*.db")
                   if p.name != "index.db"), key=lambda p: p.stat().st_mtime)
    if not runs:
        return {}
    run_id = runs[-1].stem
    import sqlite3

    with sqlite3.connect(runs[-1]) as db:
        events = dict(db.execute(
            "select coalesce(dagster_event_type, 'LOG'), count(*) from event_logs group by 1"
        ).fetchall())
    profile: dict = {"events": sum(events.values()), "events_by_type": events}
    targets = sorted((REPO / "dbt_project" / "target").glob(f"*-{run_id[:7]}-*/run_results.json"))
    if targets:
        results = json.loads(targets[-1].read_text())
        nodes = sorted(results["results"], key=lambda n: -n["execution_time"])
        profile["dbt_elapsed"] = results["elapsed_time"]
        profile["dbt_nodes"] = len(nodes)
        profile["dbt_models_s"] = sum(n["execution_time"] for n in nodes
                                      if n["unique_id"].startswith("model."))
        profile["dbt_tests_s"] = sum(n["execution_time"] for n in nodes
                                     if n["unique_id"].startswith("test."))
        profile["dbt_slowest"] = [(n["unique_id"], round(n["execution_time"], 2))
                                  for n in nodes[:8]]
    return profile


def run_scale(scale: str, people: int, reps: int, out: Path, with_report: bool) -> dict:
    folder, full, extra = generate(scale, people, out)
    work = out / scale / "runs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    floor_extracts = work / "floor-extracts"
    floor_extracts.mkdir()
    for f in full:
        os.link(f, floor_extracts / f.name)
    result: dict = {"scale": scale, "people": people, "files": len(full),
                    "bytes": sum(f.stat().st_size for f in full), "runs": []}
    for rep in range(1, reps + 1):
        print(f"[{scale}] repetition {rep}/{reps}", flush=True)
        floor_db = work / f"floor-{rep}.duckdb"
        a, a_rss = measure([sys.executable, str(REPO / "bench" / "floor.py"),
                            str(floor_extracts), str(REPO / "seeds"), str(floor_db)],
                           dict(os.environ), work / f"floor-{rep}.log")
        home = work / f"home-{rep}"
        landing = home / "landing"
        landing.mkdir(parents=True)
        for f in full:
            shutil.copyfile(f, landing / f.name)
        b, b_rss = measure([str(BIN / "icw"), "refresh", "--no-report"], icw_env(home),
                           work / f"refresh-{rep}.log")
        b_run = json.loads((home / "last_run.json").read_text())
        b_profile = run_profile(home)
        check = compare_floor(floor_db, home / "warehouse.duckdb")
        for f in extra:
            shutil.copyfile(f, landing / f.name)
        c, c_rss = measure([str(BIN / "icw"), "refresh", "--no-report"], icw_env(home),
                           work / f"monthly-{rep}.log")
        c_run = json.loads((home / "last_run.json").read_text())
        c_profile = run_profile(home)
        report = report_rss = None
        if with_report:
            report, report_rss = measure([str(BIN / "icw"), "report"], icw_env(home),
                                         work / f"report-{rep}.log")
        plain = plain_read_csv(full)
        rows = b_run["rows_loaded"] + b_run["rows_quarantined"]
        result["runs"].append({
            "floor_s": a, "floor_rss": a_rss, "refresh_s": b, "refresh_rss": b_rss,
            "monthly_s": c, "monthly_rss": c_rss, "stages": b_run["stages"],
            "overhead_s": b_run["overhead"], "monthly_stages": c_run["stages"],
            "rows": rows, "plain_read_csv_s": plain, "floor_check": check,
            "report_s": report, "report_rss": report_rss,
            "refresh_profile": b_profile, "monthly_profile": c_profile,
        })
        print(f"[{scale}] floor {a:.1f}s, refresh {b:.1f}s, monthly {c:.1f}s, "
              f"peak {b_rss / 2**30:.2f} GiB; floor {check}"
              + (f"; report {report:.1f}s" if report is not None else ""), flush=True)
        shutil.rmtree(home / "archive", ignore_errors=True)
    return result


def median(runs: list[dict], key: str, sub: str | None = None) -> float:
    values = [r[key][sub] if sub else r[key] for r in runs if (not sub or sub in r[key])]
    return statistics.median(values) if values else float("nan")


def table(results: list[dict]) -> str:
    lines = [
        "| measure | " + " | ".join(r["scale"] for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]

    def row(label: str, fmt) -> None:
        lines.append(f"| {label} | " + " | ".join(fmt(r) for r in results) + " |")

    row("people / files / MB", lambda r: f"{r['people']:,} / {r['files']} / "
        f"{r['bytes'] / 1e6:.0f}")
    row("(a) floor: plain DuckDB script", lambda r: f"{median(r['runs'], 'floor_s'):.1f} s")
    row("(b) `icw refresh --no-report`, empty warehouse",
        lambda r: f"{median(r['runs'], 'refresh_s'):.1f} s "
        f"({median(r['runs'], 'refresh_s') / median(r['runs'], 'floor_s'):.1f} x floor)")
    row("(c) monthly refresh (+1 month)", lambda r: f"{median(r['runs'], 'monthly_s'):.1f} s "
        f"({100 * median(r['runs'], 'monthly_s') / median(r['runs'], 'refresh_s'):.0f} % of b)")
    row("(c) of which ingestion / dbt", lambda r: (
        f"{median(r['runs'], 'monthly_stages', 'ingestion'):.1f} s / "
        f"{median(r['runs'], 'monthly_stages', 'dbt'):.1f} s"))
    for stage in ("ingestion", "checks", "dbt", "publish"):
        row(f"(d) {stage}", lambda r, s=stage: f"{median(r['runs'], 'stages', s):.1f} s")
    row("(d) start-up and Dagster overhead", lambda r: f"{median(r['runs'], 'overhead_s'):.1f} s")
    row("(d) report: `icw report` (site and PDF)", lambda r: (
        f"{median(r['runs'], 'report_s'):.1f} s" if r["runs"][0].get("report_s") else "not run"))
    row("(e) peak RSS, refresh (process tree)",
        lambda r: f"{median(r['runs'], 'refresh_rss') / 2**30:.2f} GiB")
    row("(e) peak RSS, monthly refresh",
        lambda r: f"{median(r['runs'], 'monthly_rss') / 2**30:.2f} GiB")
    row("(e) peak RSS, report", lambda r: (
        f"{median(r['runs'], 'report_rss') / 2**30:.2f} GiB" if r["runs"][0].get("report_rss")
        else "not run"))
    row("(e) peak RSS, floor", lambda r: f"{median(r['runs'], 'floor_rss') / 2**30:.2f} GiB")

    def ingest_rate(r: dict) -> str:
        s = median(r["runs"], "stages", "ingestion")
        rows = r["runs"][0]["rows"]
        return f"{rows / s:,.0f} rows/s, {r['bytes'] / 1e6 / s:.0f} MB/s"

    row("(f) ingestion throughput", ingest_rate)
    row("(f) plain read_csv (CTAS) throughput",
        lambda r: f"{r['bytes'] / 1e6 / median(r['runs'], 'plain_read_csv_s'):.0f} MB/s")
    row("Dagster events, refresh / monthly", lambda r: (
        f"{median(r['runs'], 'refresh_profile', 'events'):.0f} / "
        f"{median(r['runs'], 'monthly_profile', 'events'):.0f}"))
    row("dbt node time, models / tests (refresh)", lambda r: (
        f"{median(r['runs'], 'refresh_profile', 'dbt_models_s'):.1f} s / "
        f"{median(r['runs'], 'refresh_profile', 'dbt_tests_s'):.1f} s"))
    row("floor checked against marts", lambda r: r["runs"][0]["floor_check"])
    return "\n".join(lines)


def targets(results: list[dict]) -> str:
    """Issue 12's targets, each with its measured median and whether it is met."""
    lines = ["| target | measured | met? |", "|---|---|---|"]
    by_scale = {r["scale"]: r for r in results}

    def check(label: str, value: float, limit: float, unit: str, ge: bool = False) -> None:
        met = value >= limit if ge else value <= limit
        lines.append(f"| {label} | {value:.2f}{unit} | {'yes' if met else 'no'} |")

    if (n := by_scale.get("national")) is not None:
        runs = n["runs"]
        ratio = median(runs, "refresh_s") / median(runs, "floor_s")
        check("national (b) / (a) <= 2", ratio, 2, " x")
        check("national (c) / (b) <= 15 %",
              100 * median(runs, "monthly_s") / median(runs, "refresh_s"), 15, " %")
    for r in results:
        runs = r["runs"]
        ingest = r["bytes"] / median(runs, "stages", "ingestion")
        plain = r["bytes"] / median(runs, "plain_read_csv_s")
        check(f"{r['scale']} ingestion >= 50 % of plain read_csv MB/s", 100 * ingest / plain, 50,
              " %", ge=True)
        peak = max(median(runs, "refresh_rss"), median(runs, "monthly_rss"))
        check(f"{r['scale']} peak RSS of the process tree <= 2 GiB", peak / 2**30, 2, " GiB")
    if (d := by_scale.get("division")) is not None:
        check("division (b) < 40 s", median(d["runs"], "refresh_s"), 40, " s")
        check("division (c) < 15 s", median(d["runs"], "monthly_s"), 15, " s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="division,national")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--report-scales", default="division",
                        help="scales at which `icw report` is timed too (default: division)")
    args = parser.parse_args()
    report_scales = set(args.report_scales.split(",")) if args.report_scales else set()
    results = [run_scale(s, SCALES[s], args.reps, args.out, s in report_scales)
               for s in args.scales.split(",")]
    machine = (f"{platform.platform()}, {os.cpu_count()} cores, Python "
               f"{platform.python_version()}, DuckDB {duckdb.__version__}")
    text = (f"Machine: {machine}\nRepetitions: {args.reps} (medians)\n\n{table(results)}\n\n"
            f"Issue 12's targets:\n\n{targets(results)}\n")
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
