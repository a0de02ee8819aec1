"""What the report build needs besides the Evidence project itself.

Facts from the warehouse, the routes of the templated pages, the Methods page, and the sections
of the PDF pack: plain functions, each tested without a build, which `report.build_report`
strings together.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.core.settings import REPO_ROOT

#: The Methods page is generated from this file at every build, never copied by hand.
METHODS_SOURCE = REPO_ROOT / "docs" / "methods.md"

#: Where the generated Methods page goes in the Evidence project (gitignored).
METHODS_PAGE = Path("pages", "methods.md")

#: Code-fence languages Evidence renders as code; any other fence would run as a SQL query.
_CODE_LANGUAGES = {
    "javascript", "js", "html", "css", "sql", "python", "py", "typescript", "ts", "bash", "sh",
    "shell", "json", "yaml", "yml", "markdown", "md", "r", "code",
}
_FENCE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})\s*([^\s`]*)?.*$")


class ReportContentError(RuntimeError):
    """The warehouse or a source file cannot give the report what it needs."""


@dataclass(frozen=True)
class ReportFacts:
    """Facts the build reads from the warehouse copy it publishes from."""

    reporting_month: dt.date
    as_at_date: dt.date | None
    ldus: tuple[tuple[str, str], ...]  # (code, name), by name
    interventions: tuple[tuple[str, str], ...]  # (code, name), by name

    @property
    def month_label(self) -> str:
        """`YYYY-MM`, as in docs/metrics.md and the PDF's file name."""
        return self.reporting_month.strftime("%Y-%m")

    @property
    def month_title(self) -> str:
        """`October 2025`."""
        return self.reporting_month.strftime("%B %Y")


def read_facts(warehouse: Path) -> ReportFacts:
    """Read the reporting month, the data's as-at date, the LDUs and the interventions.

    The reporting month is the latest MONTH period (docs/metrics.md); the as-at date is the latest
    as-at date among the files loaded (`audit.loads`).
    """
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise ReportContentError(f"cannot open the warehouse copy {warehouse}: {exc}") from exc
    try:
        month = con.execute(
            "select max(period_start) from marts.periods where period_type = 'MONTH'"
        ).fetchone()[0]
        if month is None:
            raise ReportContentError(
                "marts.periods has no MONTH period: the warehouse holds no refreshed data yet; "
                "run `icw refresh` first"
            )
        as_at = con.execute(
            "select max(as_at_date) from audit.loads where status = 'LOADED'"
        ).fetchone()[0]
        ldus = con.execute("select ldu_code, ldu_name from marts.ldus order by ldu_name").fetchall()
        interventions = con.execute(
            "select intervention_code, intervention_name from marts.interventions "
            "order by intervention_name"
        ).fetchall()
    except duckdb.CatalogException as exc:
        raise ReportContentError(
            f"the warehouse lacks a table the report needs: {str(exc).splitlines()[0]}"
        ) from exc
    finally:
        con.close()
    return ReportFacts(
        reporting_month=month,
        as_at_date=as_at,
        ldus=tuple((code, name) for code, name in ldus),
        interventions=tuple((code, name) for code, name in interventions),
    )


def _escape_text(line: str) -> str:
    """Make prose safe for Evidence (Svelte): braces and `<` outside inline code are escaped.

    Twice over: the markdown step decodes one level of character references and writes its
    text out as it is, so `&amp;lt;` reaches Svelte as `&lt;` and the reader sees `<`.
    """
    parts = re.split(r"(`+[^`]*`+)", line)
    for i in range(0, len(parts), 2):
        parts[i] = (
            parts[i]
            .replace("{", "&amp;#123;")
            .replace("}", "&amp;#125;")
            .replace("<", "&amp;lt;")
        )
    return "".join(parts)


def methods_page(markdown: str, source: str) -> str:
    """The Evidence page for docs/methods.md: the same text, made safe to render.

    Evidence treats a fenced block whose language it does not know as a SQL query to run, and
    `{`, `}` and `<` as Svelte; so fences keep only a language Evidence renders as code (else
    `code`), and prose has those characters escaped. A front matter block in the source is
    dropped (the page has its own), and so is an opening "# Methods", which would repeat the
    page's title.
    """
    lines = markdown.splitlines()
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
        if end is not None:
            lines = lines[end + 1 :]
    # Evidence shows the page's title ("Methods") as its heading: a first heading that says the
    # same is dropped rather than shown twice; any other is kept.
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and re.fullmatch(r"#\s+methods\s*", lines[first].strip(), re.I):
        lines = lines[:first] + lines[first + 1 :]
    out = [
        "---",
        "title: Methods",
        "sidebar_position: 8",
        "---",
        "",
        f"<!-- Generated from {source} by the report build. Edit that file, not this one. -->",
        "",
    ]
    fence: str | None = None
    for line in lines:
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(2)
            language = (match.group(3) or "").lower()
            language = language if language in _CODE_LANGUAGES else "code"
            out.append(f"{match.group(1)}{fence}{language}")
        elif fence is not None and match and match.group(2).startswith(fence[0]) and len(
            match.group(2)
        ) >= len(fence) and not (match.group(3) or ""):
            fence = None
            out.append(line)
        elif fence is not None:
            out.append(line)
        else:
            out.append(_escape_text(line))
    return "\n".join(out) + "\n"


def write_methods_page(project_dir: Path, source: Path) -> Path:
    """Generate the Methods page from `source`; fail, naming the file, when it is missing."""
    if not source.is_file():
        raise ReportContentError(
            f"{source} is missing: the Methods page is generated from it at every build. "
            "Write (or restore) docs/methods.md, then build the report again"
        )
    target = project_dir / METHODS_PAGE
    try:
        label = source.relative_to(REPO_ROOT)
    except ValueError:
        label = source.name
    target.write_text(methods_page(source.read_text(encoding="utf-8"), str(label)), "utf-8")
    return target


@dataclass(frozen=True)
class Section:
    """One part of a PDF: a title for the contents and bookmarks, and the pages it prints."""

    title: str
    routes: tuple[str, ...]


#: Routes printed for the division pack get this class on their root element: CSS in the
#: layout leaves out what follows a `pack-omit` marker (the funnel plots on /consistency/).
PACK_CLASS = "icw-pack"


def pack_file_name(facts: ReportFacts) -> str:
    """`icw-pack-2025-09.pdf`: one per reporting month, so earlier months' packs are kept."""
    return f"icw-pack-{facts.month_label}.pdf"


def scorecard_file_name(facts: ReportFacts, ldu_code: str) -> str:
    """`icw-scorecard-WM01-2025-09.pdf`: the LDU's code, then the reporting month."""
    return f"icw-scorecard-{ldu_code}-{facts.month_label}.pdf"


def pack_sections() -> list[Section]:
    """The division pack's sections in reading order, after its cover; the LDU index ends it."""
    return [
        Section("Division overview", ("/",)),
        Section("Performance against target", ("/performance/",)),
        Section("Current findings", ("/consistency/",)),
        Section("Data quality", ("/data-quality/",)),
        Section("Method note", ("/method-note/",)),
    ]


def scorecard_route(ldu_code: str) -> str:
    """The LDU's page, printed as its scorecard."""
    return f"/ldus/{ldu_code}/"


#: Pages in no PDF; with the intervention pages, opened (not printed) by the printer.
OTHER_PAGES = ("/ldus/", "/interventions/", "/diversity/", "/methods/")


def checked_routes(facts: ReportFacts) -> list[str]:
    """Pages in no PDF, opened once so that their queries are checked like every other page's.

    The site is a single-page app: every page runs its queries in the browser, so the printer,
    which opens every page of the pack and every LDU's page, opens these too.
    """
    return [*OTHER_PAGES, *(f"/interventions/{code}/" for code, _ in facts.interventions)]


def missing_pages(site_dir: Path) -> list[str]:
    """Routes the report needs that the built app lacks.

    A single-page app has no file per page; Evidence writes each route's metadata to
    `api/<route>/evidencemeta.json`, so that is what a built page leaves behind.
    """
    routes = [route for section in pack_sections() for route in section.routes]
    routes += [*OTHER_PAGES, "/ldus/[ldu_code]/", "/interventions/[intervention_code]/"]
    return [
        r for r in routes
        if not (site_dir / "api" / r.strip("/") / "evidencemeta.json").is_file()
    ]
