"""End to end: the report and its PDFs build from a warehouse and show that warehouse's figures.

One real build per session (a few minutes on a busy 2-core machine: `npm run sources`, `npm run
build`, one Chromium printing the division pack and the LDUs' scorecards), from the fixture
warehouse of `report_fixture.py`; every check below reads that one build. In that build one
LDU's page hangs on its first print (the printer's test hook), so the session also shows that a
hung page is printed again in a fresh tab and the report still completes. Figures asserted on
are queried from the warehouse, never written into the test: a page showing the wrong number,
or a number that should be suppressed, fails. Evidence draws tables and charts in the browser,
so pages are read as headless Chromium renders them.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.core import stopping
from orchestration.reporting.browser import HANG_HOOK_ENV, Job, Printer
from orchestration.reporting.content import read_facts
from orchestration.reporting.evidence import ReportBuildError, check_build
from orchestration.reporting.pdf import (
    PdfError,
    find_chromium,
    print_reports,
    serve_directory,
)
from orchestration.reporting.site import ReportResult, build_report
from tests.e2e.report_fixture import (
    PLANTED_INTERVENTION,
    PLANTED_LDU,
    RETIRED_INTERVENTION,
    WHAT_CHANGED_REVISIONS,
    write_fixture_warehouse,
)

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"

pytestmark = pytest.mark.e2e

#: The page that hangs on its first print in the session's build (not the prerendered LDU).
HUNG_ROUTE = f"/ldus/{PLANTED_LDU}/"

MB = 1_000_000

#: What a page shows when one of its queries or components failed.
EVIDENCE_ERROR = re.compile(
    r"(Binder|Catalog|Parser|Conversion|Invalid Input|Out of Range|Not implemented|Internal|IO)"
    r" Error|Error in Query|Query Error|is not defined|Cannot read properties"
)

METHODS_TEXT = """# Methods

Marker sentence for the test: rates on {denominators} < 10 are suppressed.

```sql would_run_as_a_query
select 1
```
"""


@dataclass(frozen=True)
class Built:
    """The session's one build: where things are, and the warehouse it came from."""

    out_dir: Path
    warehouse: Path
    project: Path
    methods: Path
    result: ReportResult
    log: list[str]

    @property
    def site(self) -> Path:
        return self.out_dir / "site"

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


def copy_project(target: Path) -> Path:
    """A copy of `reports/` that shares its installed npm packages, so tests leave it untouched.

    Evidence builds inside the project (`.evidence/`, `build/`, the warehouse copy); a copy keeps
    the developer's working state out of the test and the test's out of the repository.
    """
    if not (REPORTS / "node_modules").is_dir():
        pytest.fail("npm packages missing in reports/node_modules: run `make install`")
    ignore = shutil.ignore_patterns(
        "node_modules", ".evidence", "build", "*.duckdb*", ".build.lock", "methods.md",
        "prerender-entries.json",
    )
    shutil.copytree(REPORTS, target, ignore=ignore)
    (target / "node_modules").symlink_to(REPORTS / "node_modules")
    return target


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One real build (site and PDF) from the fixture warehouse, for the whole session.

    A writer keeps the warehouse open during the build, as the pipeline may: the report must
    read its own copy, because DuckDB refuses even a read-only open while a writer holds it.
    """
    root = tmp_path_factory.mktemp("report")
    warehouse = root / "warehouse.duckdb"
    write_fixture_warehouse(warehouse, first_month="2024-08", n_months=14, seed=11)
    methods = root / "methods.md"
    methods.write_text(METHODS_TEXT, encoding="utf-8")
    project = copy_project(root / "project" / "reports")
    out_dir = root / "out"
    log: list[str] = []
    os.environ[HANG_HOOK_ENV] = f"{HUNG_ROUTE}:1"
    try:
        with duckdb.connect(str(warehouse)):
            result = build_report(
                warehouse, out_dir, project_dir=project, methods_file=methods, log=log.append
            )
    finally:
        del os.environ[HANG_HOOK_ENV]
    return Built(
        out_dir=out_dir, warehouse=warehouse, project=project, methods=methods, result=result,
        log=log,
    )


def _visible_text(html: str) -> str:
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    for entity, char in (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&nbsp;", " ")):
        text = text.replace(entity, char)
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="session")
def dom(built: Built) -> dict[str, str]:
    """The rendered DOM of the pages the checks read, as the printer sees them when it prints."""
    routes = ["/", "/ldus/", f"/ldus/{PLANTED_LDU}/", f"/interventions/{PLANTED_INTERVENTION}/",
              "/consistency/", "/performance/", "/data-quality/", "/diversity/", "/methods/"]
    with serve_directory(built.site) as url, Printer(url, find_chromium()) as printer:
        return printer.open([Job(route, dom=True) for route in routes])


def _pdf_text(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    command = ["pdftotext", "-layout"]
    if first:
        command += ["-f", str(first), "-l", str(last or first)]
    done = subprocess.run([*command, str(pdf), "-"], capture_output=True, text=True, check=True)
    return done.stdout


def _cell(html: str, table_attrs: dict[str, str], cell_pattern: str) -> str:
    """The text of the cell matching `cell_pattern` in the table carrying `table_attrs`."""
    for table in re.findall(r"<table\b.*?</table>", html, flags=re.S):
        opening = table[: table.index(">")]
        if all(f'{k}="{v}"' in opening for k, v in table_attrs.items()):
            found = re.search(cell_pattern + r"[^>]*>([^<]*)<", table, flags=re.S)
            assert found, f"no cell {cell_pattern} in the table {table_attrs}"
            return found.group(1).strip()
    raise AssertionError(f"no table with {table_attrs}")


# ----------------------------------------------------------------------------- the site


def test_the_site_is_one_app_with_its_data_and_the_pdfs_beside_it(built: Built):
    ldus = [code for (code,) in built.query("select ldu_code from marts.ldus")]
    # A single-page app: no page is prerendered, each runs its queries from the parquet files.
    assert (built.site / "index.html").is_file()
    assert (built.site / "data" / "manifest.json").is_file()
    assert list((built.site / "data" / "icw").glob("*/*.parquet"))
    assert not (built.site / "ldus").exists()
    assert not (built.site / "api" / "prerendered_queries").exists()
    month = built.result.facts.month_label
    assert built.result.pack_path == built.out_dir / f"icw-pack-{month}.pdf"
    assert built.result.scorecards == {
        code: built.out_dir / f"icw-scorecard-{code}-{month}.pdf" for code in ldus
    }
    published = {p.name for p in built.out_dir.iterdir()}
    assert published == {"site", "report-build.log", built.result.pack_path.name} | {
        p.name for p in built.result.scorecards.values()
    }


def test_a_second_build_with_the_same_pages_reuses_the_first(built: Built, tmp_path: Path):
    log: list[str] = []
    again = build_report(built.warehouse, tmp_path / "out", project_dir=built.project,
                         methods_file=built.methods, log=log.append, with_pdf=False)
    assert any("pages unchanged since the last build" in line for line in log), log
    assert not any(line.startswith("report: npm run build") for line in log), log
    assert again.seconds["build"] < 30
    # the same app, with this run's data
    assert (again.site_dir / "index.html").read_bytes() == (built.site / "index.html").read_bytes()
    assert (again.site_dir / "data" / "manifest.json").is_file()


def test_every_page_renders_without_an_evidence_error(built: Built, dom: dict[str, str]):
    for route, html in dom.items():
        text = _visible_text(html)
        assert "ICW monthly report" in text, route
        assert not EVIDENCE_ERROR.search(text), (route, EVIDENCE_ERROR.search(text).group(0))
    # Every page as printed into the PDFs.
    for pdf in [built.result.pack_path, *built.result.scorecards.values()]:
        pdf_text = _pdf_text(pdf)
        assert not EVIDENCE_ERROR.search(pdf_text), (pdf, EVIDENCE_ERROR.search(pdf_text))


def test_division_overview_shows_the_warehouse_figures(built: Built, dom: dict[str, str]):
    text = _visible_text(dom["/"])
    [(month, referrals)] = built.query(
        """
        select strftime(p.period_start, '%B %Y'), sum(d.referrals)
        from marts.division_intervention_measures d
        join marts.periods p using (period_type, period)
        where d.period_type = 'MONTH'
        group by p.period_start order by p.period_start desc limit 1
        """
    )
    [(as_at,)] = built.query(
        "select strftime(max(as_at_date), '%-d %B %Y') from audit.loads where status = 'LOADED'"
    )
    assert f"Reporting month: {month}" in text
    assert f"Data as at {as_at}" in text
    assert f"the division made {referrals:,} referrals" in text
    # An LDU's row of the "Find an LDU" table: its year-to-date referrals, starts, completions.
    [(name, ldu_referrals, starts, completions)] = built.query(
        """
        select l.ldu_name, sum(m.referrals), sum(m.starts), sum(m.completions)
        from marts.ldu_intervention_measures m join marts.ldus l using (ldu_code)
        where m.period_type = 'YEAR' and m.ldu_code = ?
            and m.period = (select max(period) from marts.periods where period_type = 'YEAR')
        group by l.ldu_name
        """,
        [PLANTED_LDU],
    )
    assert f"{name} {ldu_referrals:,} {starts:,} {completions:,} " in text


def test_an_ldu_is_two_clicks_from_the_front_page(built: Built, dom: dict[str, str]):
    for code, _ in built.query("select ldu_code, ldu_name from marts.ldus"):
        assert f'href="/ldus/{code}/"' in dom["/"], code
    assert f'href="/ldus/{PLANTED_LDU}/"' in dom["/ldus/"]


def test_ldu_scorecard_shows_its_position_and_its_findings(built: Built, dom: dict[str, str]):
    text = _visible_text(dom[f"/ldus/{PLANTED_LDU}/"])
    [(name, referrals, division_referrals, rank, ldus)] = built.query(
        """
        with ytd as (
            select ldu_code, sum(referrals) as referrals,
                sum(completions) / nullif(sum(completions + non_completions), 0) as rate
            from marts.ldu_intervention_measures
            where period_type = 'YEAR'
                and period = (select max(period) from marts.periods where period_type = 'YEAR')
            group by ldu_code
        ), ranked as (
            select *, rank() over (order by rate desc) as rate_rank, count(*) over () as n,
                sum(referrals) over () as division_referrals
            from ytd
        )
        select l.ldu_name, r.referrals, r.division_referrals, r.rate_rank, r.n
        from ranked r join marts.ldus l using (ldu_code) where r.ldu_code = ?
        """,
        [PLANTED_LDU],
    )
    assert re.search(rf"{re.escape(name)} \(\s*{PLANTED_LDU}\s*\)", text)
    assert f"Referrals {referrals:,} {division_referrals:,}" in text
    assert re.search(rf"Completion rate [\d.]+% [\d.]+% {rank} of {ldus}", text)
    # The planted anomaly is among its findings, at ALARM.
    [(intervention,)] = built.query(
        "select intervention_name from marts.interventions where intervention_code = ?",
        [PLANTED_INTERVENTION],
    )
    assert re.search(rf"ALARM [^A]*{re.escape(intervention)} Completion rate", text)


def test_a_rag_cell_matches_performance_against_target(built: Built, dom: dict[str, str]):
    [(rag, pct)] = built.query(
        """
        select rag, pct_of_target from marts.performance_against_target
        where ldu_code = ? and intervention_code = ? and measure = 'COMPLETION_RATE'
            and financial_year = (select max(period) from marts.periods where period_type = 'YEAR')
        """,
        [PLANTED_LDU, PLANTED_INTERVENTION],
    )
    shown = _cell(
        dom["/performance/"],
        {"data-measure": "COMPLETION_RATE"},
        rf'<span[^>]*data-ldu="{PLANTED_LDU}" data-intervention="{PLANTED_INTERVENTION}"',
    )
    assert shown == f"{rag[0]} {math.floor(100 * pct + 0.5)}%"  # JavaScript's Math.round


def test_consistency_lists_the_warehouse_findings(built: Built, dom: dict[str, str]):
    text = _visible_text(dom["/consistency/"])
    [(alarms, alerts)] = built.query(
        """
        with latest as (
            select period_type, max(period_start) as period_start from marts.periods
            where period_type in ('YEAR', 'QUARTER') group by period_type
        )
        select count(*) filter (where f.level = 'ALARM'), count(*) filter (where f.level = 'ALERT')
        from marts.consistency_flags f
        join marts.periods p using (period_type, period)
        join latest l on p.period_type = l.period_type and p.period_start = l.period_start
        """
    )
    # The fixture's planted anomaly is at ALARM, low, in the latest year and the latest quarter.
    planted = built.query(
        """
        select f.period_type, f.level, f.direction
        from marts.consistency_flags f
        join reporting.current_periods c using (period_type, period)
        where f.ldu_code = ? and f.intervention_code = ? and f.measure = 'COMPLETION_RATE'
        order by f.period_type
        """,
        [PLANTED_LDU, PLANTED_INTERVENTION],
    )
    assert planted == [("QUARTER", "ALARM", "LOW"), ("YEAR", "ALARM", "LOW")]
    assert f"{alarms} findings at ALARM and {alerts} at ALERT" in text
    [(name, value)] = built.query(
        """
        select l.ldu_name, f.value from marts.consistency_flags f join marts.ldus l using (ldu_code)
        where f.period_type = 'YEAR' and f.ldu_code = ? and f.intervention_code = ?
            and f.measure = 'COMPLETION_RATE'
            and f.period = (select max(period) from marts.periods where period_type = 'YEAR')
        """,
        [PLANTED_LDU, PLANTED_INTERVENTION],
    )
    assert f"ALARM {name} ({PLANTED_LDU})" in text
    assert f"{100 * value:.1f}% against the division's" in text
    # One funnel plot per intervention and measure, drawn as SVG.
    [(funnels,)] = built.query(
        "select count(distinct (intervention_code, measure)) from reporting.funnel_limits "
        "where period_type = 'YEAR' "
        "and period = (select max(period) from marts.periods where period_type = 'YEAR')"
    )
    assert dom["/consistency/"].count("<svg") >= funnels


def test_diversity_shows_controlled_figures_only(built: Built, dom: dict[str, str]):
    html = dom["/diversity/"]
    year = "(select max(period) from marts.division_diversity_measures)"
    # A count of 1 to 4 in the marts is shown as [c].
    [(intervention, dimension, group, _)] = built.query(
        f"""
        select intervention_code, dimension, group_value, referrals
        from marts.division_diversity_measures
        where period = {year} and referrals between 1 and 4
        order by dimension, intervention_code, group_value limit 1
        """
    )
    table = {"data-dimension": dimension, "data-measure": "REFERRALS", "data-shown": "count"}
    cell = rf'<td[^>]*data-row="{intervention}" data-column="{group}"'
    assert _cell(html, table, cell) == "[c]"
    # A cell the disclosure control leaves shown carries the marts' exact figure.
    [(intervention, dimension, group, referrals)] = built.query(
        f"""
        select m.intervention_code, m.dimension, m.group_value, m.referrals
        from marts.division_diversity_measures as m
        inner join reporting.diversity_table_cells as c
            on c.period = m.period and c.dimension = m.dimension and c.measure = 'REFERRALS'
            and c.row_key = m.intervention_code and c.column_key = m.group_value
        where m.period = {year} and c.count_suppression is null and m.referrals >= 1000
        order by m.dimension, m.intervention_code, m.group_value limit 1
        """
    )
    table = {"data-dimension": dimension, "data-measure": "REFERRALS", "data-shown": "count"}
    cell = rf'<td[^>]*data-row="{intervention}" data-column="{group}"'
    assert _cell(html, table, cell) == f"{referrals:,}"
    # No figure the control withholds reaches the page.
    text = _visible_text(html)
    assert "[c]" in text
    shown = re.findall(r"<td[^>]*data-row[^>]*>([^<]*)</td>", html)
    counts = [int(v.replace(",", "")) for v in shown if v.replace(",", "").isdigit()]
    assert counts and not any(1 <= count <= 4 for count in counts)


def test_data_quality_shows_rejections_and_recording_checks(built: Built, dom: dict[str, str]):
    html = dom["/data-quality/"]
    text = _visible_text(html)
    [(file_name, message)] = built.query(
        "select file_name, message from audit.loads where status = 'REJECTED'"
    )
    assert file_name in text and message in text
    [(ldu, period, records)] = built.query(
        """
        select ldu_code, period, sum(record_count) from marts.data_quality_issues
        where ldu_code = ? group by ldu_code, period order by period desc limit 1
        """,
        [PLANTED_LDU],
    )
    assert re.search(
        rf'<td[^>]*data-ldu="{ldu}" data-month="{period}"[^>]*>{records}</td>', html
    ), (ldu, period, records)


def test_intervention_page_puts_the_ldus_side_by_side(built: Built, dom: dict[str, str]):
    text = _visible_text(dom[f"/interventions/{PLANTED_INTERVENTION}/"])
    rows = built.query(
        """
        select l.ldu_name, m.referrals, m.starts, m.completions
        from marts.ldu_intervention_measures m join marts.ldus l using (ldu_code)
        where m.period_type = 'YEAR' and m.intervention_code = ?
            and m.period = (select max(period) from marts.periods where period_type = 'YEAR')
        """,
        [PLANTED_INTERVENTION],
    )
    assert len(rows) == 16
    for name, referrals, starts, completions in rows:
        assert re.search(rf"{re.escape(name)} {referrals:,} [\d.]+% {starts:,} {completions:,} ",
                         text), name


def test_methods_page_is_generated_from_the_methods_file(dom: dict[str, str]):
    text = _visible_text(dom["/methods/"])
    assert "Marker sentence for the test: rates on {denominators} < 10 are suppressed." in text
    assert "select 1" in text  # shown as code, not run as a query


# ----------------------------------------------------------------------------- the PDF


def _largest_image_width(pdf: Path) -> int:
    from pypdf import PdfReader

    widths = [image.image.width for page in PdfReader(str(pdf)).pages for image in page.images]
    return max(widths, default=0)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_the_division_pack_is_short_small_and_has_every_section(built: Built):
    from pypdf import PdfReader

    pdf = built.result.pack_path
    [(month_title,)] = built.query(
        "select strftime(max(period_start), '%B %Y') from marts.periods where period_type = 'MONTH'"
    )
    [(as_at,)] = built.query(
        "select strftime(max(as_at_date), '%-d %B %Y') from audit.loads where status = 'LOADED'"
    )
    reader = PdfReader(str(pdf))
    assert len(reader.pages) == built.result.pack_pages <= 20
    assert pdf.stat().st_size < 3 * MB
    # Vector charts: no full-page raster image (Evidence's print copy is 2600 px wide).
    assert _largest_image_width(pdf) <= 1000

    cover = " ".join(_pdf_text(pdf, 1).split())
    assert f"Reporting month: {month_title}" in cover
    assert f"Data as at {as_at}" in cover
    titles = ("Division overview", "Performance against target", "Current findings",
              "Data quality", "Method note", "Index of LDUs")
    starts = {}
    for title in titles:
        found = re.search(rf"{title} (\d+)", cover)
        assert found, title
        starts[title] = int(found.group(1))
    assert list(starts.values()) == sorted(starts.values())
    assert starts["Index of LDUs"] == len(reader.pages)  # the index fits on the last page
    # Each section starts on the page the contents give, with its own heading.
    headings = {"Current findings": "Consistency"}
    for title, page in starts.items():
        first = " ".join(_pdf_text(pdf, page).split())
        assert headings.get(title, title) in first, (title, page)
    assert starts["Method note"] + 1 == starts["Index of LDUs"]  # the method note is one page
    outline = [item.title for item in reader.outline if not isinstance(item, list)]
    assert outline == ["Cover", *starts]

    # The current findings without the funnel plots (each scorecard carries its LDU's own).
    findings = " ".join(
        _pdf_text(pdf, starts["Current findings"], starts["Data quality"] - 1).split()
    )
    [(name,)] = built.query("select ldu_name from marts.ldus where ldu_code = ?", [PLANTED_LDU])
    assert f"ALARM {name} ({PLANTED_LDU})" in findings
    assert "Expected referrals" not in findings and "Funnel plots" not in findings
    # The index names every LDU and its scorecard's file.
    index = " ".join(_pdf_text(pdf, starts["Index of LDUs"]).split())
    for code, path in built.result.scorecards.items():
        [(name,)] = built.query("select ldu_name from marts.ldus where ldu_code = ?", [code])
        assert f"{name} {code} {path.name}" in index, code


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_each_ldu_has_a_short_small_scorecard_of_its_own(built: Built):
    from pypdf import PdfReader

    names = dict(built.query("select ldu_code, ldu_name from marts.ldus"))
    assert set(built.result.scorecards) == set(names)
    for code, pdf in built.result.scorecards.items():
        pages = len(PdfReader(str(pdf)).pages)
        assert pages == built.result.scorecard_pages[code] <= 6, code
        assert pdf.stat().st_size < 3 * MB, code
        assert _largest_image_width(pdf) <= 1000, code
        text = " ".join(_pdf_text(pdf).split())
        assert f"{names[code]} ( {code} )" in text or f"{names[code]} ({code})" in text, code
        assert "Position in the division" in text and "Trends" in text, code
        others = [c for c in names if c != code and f"({c})" in text]
        assert others == [], code
    planted = " ".join(_pdf_text(built.result.scorecards[PLANTED_LDU]).split())
    [(intervention,)] = built.query(
        "select intervention_name from marts.interventions where intervention_code = ?",
        [PLANTED_INTERVENTION],
    )
    assert re.search(rf"ALARM [^A]*{re.escape(intervention)} Completion rate", planted)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_what_changed_reads_in_words_with_the_largest_moves_first(built: Built):
    """A second month's "What changed", as printed: names rather than codes, the revisions that
    moved most on the page, and the heading on the page of the table it introduces."""
    [(intervention,)] = built.query(
        "select intervention_name from marts.interventions where intervention_code = ?",
        [PLANTED_INTERVENTION],
    )
    [(ldu,)] = built.query("select ldu_name from marts.ldus where ldu_code = ?", [PLANTED_LDU])
    codes = ("COMPLETION_RATE", "REFERRALS", "STARTS", f" {PLANTED_INTERVENTION} ")

    pdf = built.result.scorecards[PLANTED_LDU]
    pages = [" ".join(_pdf_text(pdf, n).split())
             for n in range(1, built.result.scorecard_pages[PLANTED_LDU] + 1)]
    [at] = [n for n, text in enumerate(pages) if "What changed since last month" in text]
    assert "Since the report for" in pages[at] and "Finding Intervention Measure" in pages[at]
    # the paragraph introducing the revised figures, whole, on the page of their table
    [intro] = [text for text in pages if "figures for past periods moved" in text]
    assert "published come first: Period Intervention Measure Was Now Change Why" in intro
    section = " ".join(pages[at:])
    section = section[section.index("What changed since last month"):
                      section.index("By intervention, year to date")]
    assert re.search(rf"New {re.escape(intervention)} Completion rate", section)
    # an intervention no longer in the reference list is named by its code, not left blank
    assert f"Cleared {RETIRED_INTERVENTION} Completion rate" in section
    assert not [code for code in codes if code in section]
    n = WHAT_CHANGED_REVISIONS
    assert f"{n} of this LDU's published figures for past periods moved: {n} with late" in section
    # The fixture's revisions moved by +5 %, +10 %, ...: a printed page holds 15, the largest.
    assert re.findall(r"\+\d+%", section) == [f"+{5 * k}%" for k in range(n, n - 15, -1)]

    pack = " ".join(_pdf_text(built.result.pack_path).split())
    section = pack[pack.index("What changed since last month"):pack.index("Find an LDU")]
    assert re.search(rf"New {re.escape(ldu)} {re.escape(intervention)} Completion rate", section)
    assert re.search(rf"{re.escape(intervention)} Completion rate 50.0% 55.0% \+10% RESTATED",
                     section)
    assert not [code for code in codes if code in section]


def test_a_page_that_hangs_is_printed_again_and_the_report_completes(built: Built):
    """The session's build ran with HUNG_ROUTE spinning for ever on its first attempt."""
    retried = [line for line in built.log if line.startswith(f"report: {HUNG_ROUTE} failed")]
    assert len(retried) == 1 and "attempt 1" in retried[0], built.log
    assert not any("restarting Chromium" in line for line in built.log)
    assert built.result.scorecards[PLANTED_LDU].is_file()


def test_a_page_that_hangs_in_a_kept_tab_is_printed_in_a_fresh_one(built: Built):
    """Most pages are reached inside a kept tab: a hang there costs that tab, not the run."""
    codes = [code for (code,) in built.query("select ldu_code from marts.ldus order by 1")][:3]
    routes = [f"/ldus/{code}/" for code in codes]
    log: list[str] = []
    with serve_directory(built.site) as url, Printer(
        url, find_chromium(), tabs=1, timeout=20, log=log.append,
        hang=lambda route, attempt: (route, attempt) == (routes[1], 1),
    ) as printer:
        shown = printer.open([Job(route, dom=True) for route in routes])
    [failed] = [line for line in log if "failed on attempt" in line]
    assert failed.startswith(f"report: {routes[1]} failed on attempt 1:"), log
    # the hung page in a fresh tab, the page after it reached inside that tab
    assert any("(2 loaded, 1 reached within the app)" in line for line in log), log
    for code, route in zip(codes, routes, strict=True):
        assert re.search(rf"\(\s*{code}\s*\)", _visible_text(shown[route])), route


def test_a_page_reached_within_the_app_shows_what_a_fresh_load_shows(built: Built):
    """The printer keeps a tab and moves through the app as a reader's click does: each page
    must show its own figures, never the last page's, and exactly what it shows loaded afresh."""
    other = next(code for (code,) in built.query("select ldu_code from marts.ldus order by 1")
                 if code != PLANTED_LDU)
    planted, intervention = f"/ldus/{PLANTED_LDU}/", f"/interventions/{PLANTED_INTERVENTION}/"
    log: list[str] = []
    with serve_directory(built.site) as url, Printer(url, find_chromium(), tabs=1,
                                                     log=log.append) as printer:
        kept = printer.open([Job(f"/ldus/{other}/", dom=True), Job(planted, dom=True),
                             Job("/performance/", dom=True), Job(intervention, dom=True)])
        fresh = {route: printer.open([Job(route, dom=True)])[route]  # a new tab each time
                 for route in (planted, intervention)}
    assert any("(1 loaded, 3 reached within the app)" in line for line in log), log

    def shown(html: str) -> str:  # the page's own content (the breadcrumbs are not printed)
        article = re.search(r'<article id="evidence-main-article".*?</article>', html, re.S)
        assert article, "no main article"
        return _visible_text(article.group(0))

    for route in (planted, intervention):
        assert shown(kept[route]) == shown(fresh[route]), route
    assert re.search(rf"\(\s*{PLANTED_LDU}\s*\)", shown(kept[planted]))
    assert not re.search(rf"\(\s*{other}\s*\)", shown(kept[planted]))


def test_a_page_query_error_fails_the_printing_at_once(built: Built, tmp_path: Path):
    """With templated pages left to the browser, the printer's console check is the query check."""
    site = tmp_path / "site"
    shutil.copytree(built.site, site)
    shutil.rmtree(site / "data" / "icw" / "ldu_position")  # every query on the page now fails
    facts = read_facts(built.project / "sources" / "icw" / "warehouse.duckdb")
    log: list[str] = []
    started = time.monotonic()
    with pytest.raises(PdfError, match=r"/[\w/-]*: page queries failed: .*ldu_position"):
        print_reports(site, tmp_path / "out", facts, find_chromium(), log=log.append)
    assert time.monotonic() - started < 60
    assert not any("attempt" in line for line in log)  # not retried
    assert not list((tmp_path / "out").glob("icw-*.pdf"))


def test_a_stop_kills_the_browser_at_once(built: Built):
    with serve_directory(built.site) as url, Printer(url, find_chromium()) as printer:
        [browser] = printer._processes
        stopping.record(signal.SIGTERM)  # what the stop watcher does when SIGTERM arrives
        try:
            browser.wait(timeout=5)
        finally:
            stopping.reset()
    assert browser.returncode == -signal.SIGKILL
    # its renderers went with it (dead, or zombies where nothing reaps orphans)
    time.sleep(1)
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat[3]) == browser.pid and stat[0] != "Z":
            alive.append(proc.name)
    assert alive == []


# ----------------------------------------------------------------------------- failures


def test_failed_build_raises_and_keeps_the_last_good_site_and_pdfs(built: Built, tmp_path: Path):
    index = built.site / "index.html"
    before = index.read_bytes()
    pdfs = [built.result.pack_path, *built.result.scorecards.values()]
    pdfs_before = [pdf.read_bytes() for pdf in pdfs]
    broken = tmp_path / "broken.duckdb"
    write_fixture_warehouse(broken, with_measures=False, with_reporting=False)

    with pytest.raises(ReportBuildError) as raised:
        build_report(broken, built.out_dir, project_dir=built.project,
                     methods_file=built.methods, log=lambda line: None)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("npm run sources")
    assert "ldu_intervention_measures" in message
    assert index.read_bytes() == before
    assert [pdf.read_bytes() for pdf in pdfs] == pdfs_before
    assert sorted(p.name for p in built.out_dir.iterdir()) == sorted(
        ["site", "report-build.log", *(pdf.name for pdf in pdfs)]
    )


def test_a_missing_methods_file_fails_before_building(tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"")
    with pytest.raises(ReportBuildError, match=r"no_methods\.md is missing: the Methods page"):
        build_report(warehouse, tmp_path / "out", methods_file=tmp_path / "no_methods.md",
                     log=lambda line: None)
    assert not (tmp_path / "out").exists()


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
        check_build(output)


def test_missing_npm_packages_say_run_make_install(tmp_path: Path):
    project = tmp_path / "reports"
    project.mkdir()
    (project / "package.json").write_text("{}")
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"")
    methods = tmp_path / "methods.md"
    methods.write_text("# Methods\n")
    with pytest.raises(ReportBuildError, match=r"run `make install` \(npm packages missing"):
        build_report(warehouse, tmp_path / "out", project_dir=project, methods_file=methods,
                     log=lambda line: None)
