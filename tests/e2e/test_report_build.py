"""End to end: the Evidence report builds from a warehouse and shows that warehouse's figures.

The fixture warehouse is written here with DuckDB, in the published shape of the marts the report
reads, so the test does not depend on the pipeline; the figures asserted on are computed from it.
Each build runs the real `npm run sources` and `npm run build` in `reports/` (about 2 minutes);
Chromium renders the page, since Evidence draws its tables and charts in the browser.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.report import (
    ReportBuildError,
    _check_build,
    build_report,
    chromium_command,
    find_chromium,
    render_pdf,
    serve_directory,
)

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
REPORTS = REPO / "reports"

pytestmark = pytest.mark.e2e

MEASURE_COLUMNS = """
    period_type varchar not null,
    period varchar not null,
    period_start date not null,
    period_end date not null,
    is_partial boolean not null,
    ldu_code varchar not null,
    intervention_code varchar not null,
    eligible_caseload integer not null,
    referrals integer not null,
    referral_rate double,
    starts integer not null,
    completions integer not null,
    non_completions integer not null,
    completion_rate double,
    timely_starts integer not null,
    timely_start_rate double,
    median_days_to_start double
"""


def _read_seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _month_start(first_month: str, offset: int) -> dt.date:
    year, month = (int(part) for part in first_month.split("-"))
    index = year * 12 + (month - 1) + offset
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(start: dt.date) -> dt.date:
    following = _month_start(start.strftime("%Y-%m"), 1)
    return following - dt.timedelta(days=1)


def _financial_year(start: dt.date) -> int:
    return start.year if start.month >= 4 else start.year - 1


def _periods_of(month: dt.date) -> list[tuple[str, str, dt.date, dt.date]]:
    """The MONTH, QUARTER and YEAR periods (METRICS.md labels) that contain a month."""
    fy = _financial_year(month)
    fy_label = f"{fy}-{(fy + 1) % 100:02d}"
    quarter = ((month.month - 4) % 12) // 3 + 1
    q_start = _month_start(f"{fy}-04", 3 * (quarter - 1))
    q_end = _month_end(_month_start(f"{fy}-04", 3 * quarter - 1))
    return [
        ("MONTH", month.strftime("%Y-%m"), month, _month_end(month)),
        ("QUARTER", f"{fy_label} Q{quarter}", q_start, q_end),
        ("YEAR", fy_label, dt.date(fy, 4, 1), dt.date(fy + 1, 3, 31)),
    ]


def write_fixture_warehouse(
    path: Path,
    first_month: str = "2024-08",
    n_months: int = 14,
    seed: int = 1,
    with_measures: bool = True,
) -> None:
    """Write a warehouse holding the marts the report reads, with plausible, seeded figures.

    LDUs and interventions come from the project's seeds. Monthly counts are drawn at random;
    quarters and years are their sums, and rates come from the sums, as METRICS.md defines them.
    `with_measures=False` leaves out `marts.ldu_intervention_measures`, to make a build fail.
    """
    rng = random.Random(seed)
    ldus = _read_seed("ldus.csv")
    interventions = _read_seed("interventions.csv")
    months = [_month_start(first_month, i) for i in range(n_months)]
    reporting_month_end = _month_end(months[-1])

    totals: dict[tuple[str, str, str, str], dict[str, float]] = {}
    spans: dict[tuple[str, str], tuple[dt.date, dt.date]] = {}
    size = {ldu["ldu_code"]: rng.uniform(0.5, 1.6) for ldu in ldus}
    volume = {i["intervention_code"]: rng.uniform(2.0, 14.0) for i in interventions}
    for month in months:
        for ldu in ldus:
            for intervention in interventions:
                base = size[ldu["ldu_code"]] * volume[intervention["intervention_code"]]
                referrals = max(0, round(rng.gauss(base, base**0.5)))
                starts = max(0, round(referrals * rng.uniform(0.55, 0.85)))
                endings = max(0, round(starts * rng.uniform(0.7, 1.1)))
                completions = round(endings * rng.uniform(0.45, 0.8))
                drawn = {
                    "eligible_caseload": round(base * rng.uniform(9, 12)),
                    "referrals": referrals,
                    "starts": starts,
                    "completions": completions,
                    "non_completions": endings - completions,
                    "timely_starts": round(starts * rng.uniform(0.6, 0.95)),
                    "days_x_starts": starts * rng.uniform(20, 70),
                }
                for period_type, period, start, end in _periods_of(month):
                    spans[(period_type, period)] = (start, end)
                    key = (period_type, period, ldu["ldu_code"], intervention["intervention_code"])
                    acc = totals.setdefault(key, dict.fromkeys(drawn, 0.0) | {"caseload_max": 0})
                    for name, value in drawn.items():
                        acc[name] += value
                    acc["caseload_max"] = max(acc["caseload_max"], drawn["eligible_caseload"])

    def ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
        return scale * numerator / denominator if denominator else None

    measure_rows = []
    for (period_type, period, ldu_code, intervention_code), acc in totals.items():
        start, end = spans[(period_type, period)]
        caseload = round(acc["caseload_max"] * (1.0 if period_type == "MONTH" else 1.4))
        endings = acc["completions"] + acc["non_completions"]
        measure_rows.append(
            (
                period_type,
                period,
                start,
                end,
                end > reporting_month_end,
                ldu_code,
                intervention_code,
                caseload,
                int(acc["referrals"]),
                ratio(acc["referrals"], caseload, 100.0),
                int(acc["starts"]),
                int(acc["completions"]),
                int(acc["non_completions"]),
                ratio(acc["completions"], endings),
                int(acc["timely_starts"]),
                ratio(acc["timely_starts"], acc["starts"]),
                ratio(acc["days_x_starts"], acc["starts"]),
            )
        )

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.ldus (ldu_code varchar, ldu_name varchar, region varchar)")
        con.executemany(
            "insert into marts.ldus values (?, ?, ?)",
            [(r["ldu_code"], r["ldu_name"], r["region"]) for r in ldus],
        )
        con.execute(
            "create table marts.interventions (intervention_code varchar,"
            " intervention_name varchar, intervention_type varchar, max_days_to_start integer)"
        )
        con.executemany(
            "insert into marts.interventions values (?, ?, ?, ?)",
            [
                (
                    r["intervention_code"],
                    r["intervention_name"],
                    r["intervention_type"],
                    int(r["max_days_to_start"]),
                )
                for r in interventions
            ],
        )
        con.execute(
            "create table marts.periods (period_type varchar, period varchar,"
            " period_start date, period_end date, is_partial boolean)"
        )
        con.executemany(
            "insert into marts.periods values (?, ?, ?, ?, ?)",
            [(t, p, s, e, e > reporting_month_end) for (t, p), (s, e) in spans.items()],
        )
        if with_measures:
            con.execute(f"create table marts.ldu_intervention_measures ({MEASURE_COLUMNS})")
            con.executemany(
                f"insert into marts.ldu_intervention_measures values ({', '.join('?' * 17)})",
                measure_rows,
            )
        con.execute("checkpoint")


@dataclass(frozen=True)
class ExpectedFigures:
    """Figures read back from the fixture warehouse, which the built report must show."""

    reporting_month: str
    division_referrals_latest_month: int
    financial_year: str
    ldu_name: str
    ldu_referrals_ytd: int
    division_ytd: tuple[int, int, int, float]


def read_expected_figures(warehouse: Path) -> ExpectedFigures:
    """Compute, straight from the warehouse, the figures the index page should show."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        month, referrals = con.execute(
            """
            select period, sum(referrals)
            from marts.ldu_intervention_measures
            where period_type = 'MONTH'
            group by period, period_start
            order by period_start desc
            limit 1
            """
        ).fetchone()
        year_to_date = """
            select m.*, l.ldu_name
            from marts.ldu_intervention_measures as m
            inner join marts.ldus as l on m.ldu_code = l.ldu_code
            where m.period_type = 'YEAR'
                and m.period_start = (
                    select max(period_start) from marts.ldu_intervention_measures
                    where period_type = 'YEAR'
                )
        """
        year, ldu_name, ldu_referrals = con.execute(
            f"""
            select period, ldu_name, sum(referrals) as referrals
            from ({year_to_date})
            group by period, ldu_name
            order by referrals desc
            limit 1
            """
        ).fetchone()
        division = con.execute(
            f"""
            select sum(referrals), sum(starts), sum(completions),
                sum(completions) / sum(completions + non_completions)
            from ({year_to_date})
            """
        ).fetchone()
    return ExpectedFigures(
        reporting_month=month,
        division_referrals_latest_month=int(referrals),
        financial_year=year,
        ldu_name=ldu_name,
        ldu_referrals_ytd=int(ldu_referrals),
        division_ytd=(int(division[0]), int(division[1]), int(division[2]), float(division[3])),
    )


def _text_of(html: str) -> str:
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).replace("&amp;", "&")


def _visible_text(site: Path, page: str = "") -> str:
    """The page as a reader sees it once its data has loaded (headless Chromium's DOM).

    Evidence prerenders the page's text but draws tables and charts in the browser from the
    data files it ships, so only the rendered DOM proves that a figure reached the reader.
    """
    with serve_directory(site) as base_url:
        dom = subprocess.run(
            chromium_command(find_chromium(), site.parent / "chromium-profile")
            + ["--dump-dom", f"{base_url}/{page}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    shutil.rmtree(site.parent / "chromium-profile", ignore_errors=True)
    return _text_of(dom)


def _leftovers(out_dir: Path) -> list[str]:
    return sorted(p.name for p in out_dir.iterdir() if p.name not in {"site", "report-build.log"})


def copy_project(target: Path) -> Path:
    """A copy of `reports/` that shares its installed npm packages, so tests leave it untouched.

    Evidence builds inside the project (`.evidence/`, `build/`, the warehouse copy); a copy keeps
    the developer's working state out of the test and the test's out of the repository.
    """
    if not (REPORTS / "node_modules").is_dir():
        pytest.fail("npm packages missing in reports/node_modules: run `make install`")
    ignore = shutil.ignore_patterns(
        "node_modules", ".evidence", "build", "*.duckdb*", ".build.lock"
    )
    shutil.copytree(REPORTS, target, ignore=ignore)
    (target / "node_modules").symlink_to(REPORTS / "node_modules")
    return target


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project") / "reports")


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, project: Path
) -> Iterator[tuple[Path, ExpectedFigures]]:
    """One real build from a small fixture warehouse, shared by the tests of this module.

    A writer keeps the warehouse open during the build, as the pipeline may: the report must
    read its own copy, because DuckDB refuses even a read-only open while a writer holds the file.
    """
    root = tmp_path_factory.mktemp("report")
    warehouse = root / "warehouse.duckdb"
    write_fixture_warehouse(warehouse, first_month="2024-08", n_months=14, seed=11)
    expected = read_expected_figures(warehouse)
    out_dir = root / "out"
    with duckdb.connect(str(warehouse)):
        result = build_report(warehouse, out_dir, project_dir=project, log=lambda line: None)
    assert set(result.seconds) == {"copy", "sources", "build", "install"}
    yield out_dir, expected


def test_build_publishes_a_whole_site(built: tuple[Path, ExpectedFigures]):
    out_dir, _ = built
    assert (out_dir / "site" / "index.html").is_file()
    assert _leftovers(out_dir) == []


def test_index_page_shows_the_warehouse_figures(built: tuple[Path, ExpectedFigures]):
    out_dir, expected = built
    text = _visible_text(out_dir / "site")

    assert "Division overview" in text
    month = dt.date.fromisoformat(expected.reporting_month + "-01").strftime("%B %Y")
    assert f"Reporting month: {month}" in text
    assert f"the division made {expected.division_referrals_latest_month:,} referrals" in text
    assert f"LDUs in {expected.financial_year} to date" in text
    assert f"{expected.ldu_name} {expected.ldu_referrals_ytd:,} " in text
    referrals, starts, completions, rate = expected.division_ytd
    assert f"Division {referrals:,} {starts:,} {completions:,} {rate:.1%}" in text


def test_failed_build_raises_and_keeps_the_last_good_site(
    built: tuple[Path, ExpectedFigures], project: Path, tmp_path: Path
):
    out_dir, _ = built
    index = out_dir / "site" / "index.html"
    before = index.read_bytes()
    broken = tmp_path / "broken.duckdb"
    write_fixture_warehouse(broken, with_measures=False)

    with pytest.raises(ReportBuildError) as raised:
        build_report(broken, out_dir, project_dir=project, log=lambda line: None)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("npm run sources")
    assert "ldu_intervention_measures" in message
    assert index.read_bytes() == before
    assert _leftovers(out_dir) == []


def test_missing_warehouse_names_the_file(tmp_path: Path):
    with pytest.raises(ReportBuildError, match="no_such.duckdb"):
        build_report(tmp_path / "no_such.duckdb", tmp_path / "out", log=lambda line: None)


def test_a_page_query_error_fails_the_build():
    """`build:strict` exits 0 when a page query fails; this line, from such a build, must fail."""
    output = (
        "✓ built in 1m 43s\n"
        'broken | Error in Query! Binder Error: Referenced column "x" not found in FROM clause!\n'
        'Candidate bindings: "ldus.ldu_code"\n'
        "Build complete --> /build\n"
    )
    with pytest.raises(ReportBuildError, match=r"^npm run build: page queries failed: broken"):
        _check_build(output)


def test_missing_npm_packages_say_run_make_install(tmp_path: Path):
    project = tmp_path / "reports"
    project.mkdir()
    (project / "package.json").write_text("{}")
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture_warehouse(warehouse, n_months=1)
    with pytest.raises(ReportBuildError, match=r"run `make install` \(npm packages missing"):
        build_report(warehouse, tmp_path / "out", project_dir=project, log=lambda line: None)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_pdf_holds_the_warehouse_figures(built: tuple[Path, ExpectedFigures], tmp_path: Path):
    """The PDF's text, read back with poppler, carries figures from the warehouse.

    pypdf's text extraction drops some of Inter's tabular digits, so poppler reads it back.
    """
    out_dir, expected = built
    pdf = render_pdf(out_dir / "site", tmp_path / "report.pdf", pages=["/"])
    text = " ".join(
        subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert f"the division made {expected.division_referrals_latest_month:,} referrals" in text
    referrals, starts, completions, rate = expected.division_ytd
    assert f"Division {referrals:,} {starts:,} {completions:,} {rate:.1%}" in text
