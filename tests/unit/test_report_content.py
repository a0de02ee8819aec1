"""What the report build reads and writes besides Evidence: facts, routes, Methods, sections."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from orchestration.reporting.content import (
    ReportContentError,
    ReportFacts,
    checked_routes,
    methods_page,
    missing_pages,
    pack_file_name,
    pack_sections,
    read_facts,
    scorecard_file_name,
    write_methods_page,
)

pytestmark = pytest.mark.unit

FACTS = ReportFacts(
    reporting_month=dt.date(2025, 9, 1),
    as_at_date=dt.date(2025, 10, 3),
    ldus=(("WM03", "Coventry"), ("EM01", "Derby City")),
    interventions=(("TSP", "Thinking Skills Programme"),),
)


def _warehouse(path: Path, with_loads: bool = True) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema audit")
        con.execute(
            "create table marts.periods as select * from (values "
            "('MONTH', '2025-08', date '2025-08-01'), ('MONTH', '2025-09', date '2025-09-01'), "
            "('YEAR', '2025-26', date '2025-04-01')) as t(period_type, period, period_start)"
        )
        con.execute(
            "create table marts.ldus as select * from (values ('WM03', 'Coventry'), "
            "('EM01', 'Derby City')) as t(ldu_code, ldu_name)"
        )
        con.execute(
            "create table marts.interventions as select * from (values "
            "('TSP', 'Thinking Skills Programme')) as t(intervention_code, intervention_name)"
        )
        if with_loads:
            con.execute(
                "create table audit.loads as select * from (values "
                "(date '2025-10-03', 'LOADED'), (date '2025-10-09', 'REJECTED'), "
                "(date '2025-09-02', 'LOADED')) as t(as_at_date, status)"
            )
    return path


def test_facts_are_the_latest_month_and_the_latest_loaded_as_at_date(tmp_path):
    facts = read_facts(_warehouse(tmp_path / "w.duckdb"))
    assert facts.reporting_month == dt.date(2025, 9, 1)
    assert facts.month_label == "2025-09" and facts.month_title == "September 2025"
    assert facts.as_at_date == dt.date(2025, 10, 3)  # the rejected file's date does not count
    assert facts.ldus == (("WM03", "Coventry"), ("EM01", "Derby City"))


def test_a_warehouse_without_audit_is_named_as_the_problem(tmp_path):
    with pytest.raises(ReportContentError, match="lacks a table the report needs"):
        read_facts(_warehouse(tmp_path / "w.duckdb", with_loads=False))


def test_the_pages_in_no_pdf_are_opened_to_check_their_queries():
    assert checked_routes(FACTS) == [
        "/ldus/", "/interventions/", "/diversity/", "/methods/", "/interventions/TSP/",
    ]


def test_the_pack_has_its_sections_in_reading_order():
    sections = pack_sections()
    assert [s.title for s in sections] == [
        "Division overview", "Performance against target", "Current findings", "Data quality",
        "Method note",
    ]
    assert [s.routes for s in sections] == [
        ("/",), ("/performance/",), ("/consistency/",), ("/data-quality/",), ("/method-note/",),
    ]


def test_the_pdfs_are_named_by_month_and_ldu():
    assert pack_file_name(FACTS) == "icw-pack-2025-09.pdf"
    assert scorecard_file_name(FACTS, "WM01") == "icw-scorecard-WM01-2025-09.pdf"


def test_missing_pages_are_listed(tmp_path):
    site = tmp_path / "site"
    for route in ("", "performance", "consistency", "ldus", "ldus/[ldu_code]", "interventions",
                  "interventions/[intervention_code]", "data-quality", "diversity"):
        (site / "api" / route).mkdir(parents=True, exist_ok=True)
        (site / "api" / route / "evidencemeta.json").write_text("{}")
    assert missing_pages(site) == ["/method-note/", "/methods/"]


def test_methods_page_keeps_the_text_and_runs_no_query():
    source = "\n".join(
        [
            "---",
            "author: someone",
            "---",
            "# Methods",
            "## Suppression",
            "Rates on {n} < 10 people are suppressed; `x < {y}` stays code.",
            "```sql flagged_ldus",
            "select * from marts.consistency_flags",
            "```",
            "```",
            "a {plain} block",
            "```",
            "```python",
            "print(1)",
            "```",
        ]
    )
    page = methods_page(source, "docs/methods.md")
    lines = page.splitlines()
    assert lines[:4] == ["---", "title: Methods", "sidebar_position: 8", "---"]
    assert "author: someone" not in page
    assert "# Methods" not in lines  # it is the page's title, shown once
    assert "## Suppression" in lines
    # Prose: escaped twice, because the markdown step decodes one level of references.
    assert "Rates on &amp;#123;n&amp;#125; &amp;lt; 10 people" in page
    assert "`x < {y}` stays code." in page  # inline code is left to the markdown step
    # A named SQL fence would run as a query; an unnamed one too. Both become plain code.
    assert "```sql" in lines and "```sql flagged_ldus" not in lines
    assert "```code" in lines and "```python" in lines
    assert "select * from marts.consistency_flags" in lines


def test_a_missing_methods_file_fails_naming_it(tmp_path):
    with pytest.raises(ReportContentError, match=r"methods\.md is missing"):
        write_methods_page(tmp_path, tmp_path / "docs" / "methods.md")


def test_a_methods_heading_that_says_more_is_kept():
    page = methods_page("# Methods: flags and checks\n\nText.\n", "docs/methods.md")
    assert "# Methods: flags and checks" in page.splitlines()
