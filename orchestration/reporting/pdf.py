"""Print the built report into PDFs: the division pack and one scorecard per LDU.

Chromium comes from the Debian package (`make chromium`); nothing here downloads a browser. One
browser prints every page (browser.py), each when it has rendered. The pack is a cover, the
overview, against target, the current findings, data quality, a one-page method note and an
index of the LDUs, merged with pypdf, with the contents on the cover and as bookmarks. Each
scorecard is its LDU's page. Every PDF is written under a temporary name and renamed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import http.server
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestration.reporting.browser import Job, Printer, PrintError
from orchestration.reporting.content import (
    PACK_CLASS,
    ReportFacts,
    pack_file_name,
    pack_sections,
    scorecard_file_name,
    scorecard_route,
)

PACK_SCALE = 0.85
"""The pack's pages are printed smaller than the scorecards, to keep it to about 20 pages."""

FALLBACK_PAGE = "index.html"
"""The site's fallback page (reports/svelte.config.js): the single-page app renders any route."""


class PdfError(RuntimeError):
    """A page could not be printed; `output` keeps what explains it."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(" ".join(message.split()))
        self.output = output


def find_chromium() -> Path:
    """Locate Debian's Chromium, which renders the PDF; no test or build downloads a browser."""
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return Path(found)
    if Path("/usr/bin/chromium").exists():
        return Path("/usr/bin/chromium")
    raise PdfError(
        "Chromium not found: install it (`make chromium`, or `apt-get install chromium` on "
        "Debian) to render the PDF"
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def send_head(self):  # noqa: ANN201 - http.server's signature
        """Answer a page's path with the fallback page, as a host of the site must."""
        path = Path(self.translate_path(self.path))
        fallback = Path(self.directory, FALLBACK_PAGE)
        if not path.exists() and not path.suffix and fallback.is_file():
            self.path = "/" + FALLBACK_PAGE
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep the test and pipeline output free of one line per request."""


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore a browser dropping a connection it no longer needs (it does so on exit)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve a built site on 127.0.0.1 at a free port for as long as the block runs.

    Evidence pages fetch their data and code from the site root, so they cannot be opened as
    files; a path with no file (any page: the site is a single-page app) gets the fallback page.
    Yields the base URL, without a trailing slash.
    """
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class PdfFile:
    """A PDF written: where, how many pages, how many bytes."""

    path: Path
    pages: int
    size: int


@dataclass(frozen=True)
class Printed:
    """The month's PDFs, written (staged) in one folder: the pack and each LDU's scorecard."""

    pack: PdfFile
    scorecards: dict[str, PdfFile]
    pack_starts: dict[str, int]


_STYLE = """
  @page {{ size: A4; margin: 22mm 20mm; }}
  body {{ font-family: Inter, 'Helvetica Neue', Arial, sans-serif; color: #0b0c0c; margin: 0; }}
  .band {{ border-left: 8px solid #1d70b8; padding: 4mm 0 4mm 8mm; margin-top: {top}; }}
  .kicker {{ font-size: 13pt; color: #505a5f; margin: 0 0 3mm; }}
  h1 {{ font-size: {h1}; margin: 0 0 6mm; line-height: 1.1; }}
  .month {{ font-size: 22pt; font-weight: 700; margin: 0 0 2mm; }}
  .asat {{ font-size: 13pt; margin: 0; }}
  h2 {{ font-size: 13pt; margin: 18mm 0 3mm; }}
  table {{ border-collapse: collapse; width: 100%; font-size: {cell}; }}
  th {{ text-align: left; border-bottom: 2px solid #0b0c0c; padding: 1.4mm 2mm 1.4mm 0; }}
  td {{ padding: {pad} 2mm {pad} 0; border-bottom: 1px solid #d0d3d4; }}
  td.page {{ text-align: right; }}
  .note {{ font-size: 10pt; color: #505a5f; }}
  .foot {{ position: fixed; bottom: 0; font-size: 9pt; color: #505a5f; }}
"""


def cover_html(facts: ReportFacts, starts: dict[str, int], built_at: dt.datetime) -> str:
    """The pack's cover: title, reporting month, the data's as-at date, and the contents."""
    as_at = facts.as_at_date.strftime("%-d %B %Y") if facts.as_at_date else "not recorded"
    rows = "\n".join(
        f"<tr><td>{html.escape(title)}</td><td class='page'>{page}</td></tr>"
        for title, page in starts.items()
    )
    style = _STYLE.format(top="30mm", h1="30pt", cell="11pt", pad="1.6mm")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ICW division pack {facts.month_label}</title>
<style>{style}  table {{ width: 110mm; }}</style></head>
<body>
<div class="band">
  <p class="kicker">Intervention Consistency Warehouse</p>
  <h1>Monthly report for senior managers</h1>
  <p class="month">Reporting month: {html.escape(facts.month_title)}</p>
  <p class="asat">Data as at {html.escape(as_at)}</p>
</div>
<h2>Contents</h2>
<table>{rows}</table>
<p class="foot">Built {built_at.strftime("%-d %B %Y %H:%M")} from the published warehouse.
Each LDU's scorecard is a PDF of its own, beside this one; the interactive report has every
page, with the funnel plots and one page per intervention.</p>
</body></html>
"""


def ldu_index_html(facts: ReportFacts) -> str:
    """The pack's last page: each LDU, its code and the file name of its scorecard."""
    rows = "\n".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(code)}</td>"
        f"<td>{html.escape(scorecard_file_name(facts, code))}</td></tr>"
        for code, name in facts.ldus
    )
    style = _STYLE.format(top="0", h1="20pt", cell="10.5pt", pad="1.1mm")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Index of LDUs</title>
<style>{style}</style></head>
<body>
<h1>Index of LDUs</h1>
<p class="note">Each LDU's scorecard (its position in the division, its findings, its recording
problems and its trends) is a PDF of its own for {html.escape(facts.month_title)}, named as
below, and a page of the interactive report.</p>
<table><tr><th>LDU</th><th>Code</th><th>Scorecard</th></tr>
{rows}</table>
</body></html>
"""


def _write_atomically(writer, pdf_path: Path) -> int:
    partial = pdf_path.with_name(f".{pdf_path.name}.tmp")
    with partial.open("wb") as f:
        writer.write(f)
    os.replace(partial, pdf_path)
    return pdf_path.stat().st_size


def print_reports(
    site_dir: Path,
    out_dir: Path,
    facts: ReportFacts,
    chromium: Path,
    check_routes: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> Printed:
    """Print the pack and every LDU's scorecard from a built site into `out_dir`.

    Pages in `check_routes` are opened too, not printed, so that every page that was not
    prerendered has its queries checked once. A page showing a query error fails it all.
    """
    from pypdf import PdfReader, PdfWriter

    out_dir.mkdir(parents=True, exist_ok=True)
    parts_dir = out_dir / ".parts"
    shutil.rmtree(parts_dir, ignore_errors=True)
    parts_dir.mkdir()
    sections = pack_sections()
    part = {route: parts_dir / f"part-{i:02d}.pdf"
            for i, route in enumerate(r for s in sections for r in s.routes)}
    cards = {code: out_dir / scorecard_file_name(facts, code) for code, _ in facts.ldus}
    jobs = [Job(route, target, PACK_CLASS, PACK_SCALE) for route, target in part.items()]
    jobs += [Job(scorecard_route(code), parts_dir / f"card-{code}.pdf") for code in cards]
    jobs += [Job(route) for route in check_routes]
    index_file, cover_file = parts_dir / "ldu-index.html", parts_dir / "cover.html"
    index_file.write_text(ldu_index_html(facts), encoding="utf-8")
    try:
        with serve_directory(site_dir) as url, Printer(url, chromium, log=log) as printer:
            log(f"report: printing {len(part)} pack pages and {len(cards)} scorecards, "
                f"checking {len(check_routes)} more pages, in one Chromium ...")
            jobs.append(Job(index_file.as_uri(), parts_dir / "ldu-index.pdf"))
            printer.open(jobs)
            counts = {path: len(PdfReader(str(path)).pages) for path in part.values()}
            starts: dict[str, int] = {}
            page = 2  # the cover is page 1
            for section in sections:
                starts[section.title] = page
                page += sum(counts[part[route]] for route in section.routes)
            starts["Index of LDUs"] = page
            cover_file.write_text(cover_html(facts, starts, dt.datetime.now()), encoding="utf-8")
            printer.open([Job(cover_file.as_uri(), parts_dir / "cover.pdf")])
    except PrintError as exc:
        raise PdfError(str(exc)) from exc
    if len(PdfReader(str(parts_dir / "cover.pdf")).pages) != 1:
        raise PdfError("the pack's cover did not fit on one page")

    as_at = facts.as_at_date.isoformat() if facts.as_at_date else "not recorded"
    writer = PdfWriter()
    for path in [parts_dir / "cover.pdf", *part.values(), parts_dir / "ldu-index.pdf"]:
        writer.append(str(path))
    writer.add_outline_item("Cover", 0)
    for title, start in starts.items():
        writer.add_outline_item(title, start - 1)
    writer.add_metadata({"/Title": f"ICW division pack, {facts.month_title}",
                         "/Subject": f"Reporting month {facts.month_label}; data as at {as_at}"})
    pack_path = out_dir / pack_file_name(facts)
    pack = PdfFile(pack_path, len(writer.pages), _write_atomically(writer, pack_path))

    scorecards = {}
    names = dict(facts.ldus)
    for code, path in cards.items():
        writer = PdfWriter()
        writer.append(str(parts_dir / f"card-{code}.pdf"))
        writer.add_metadata({
            "/Title": f"ICW scorecard: {names[code]} ({code}), {facts.month_title}",
            "/Subject": f"Reporting month {facts.month_label}; data as at {as_at}",
        })
        scorecards[code] = PdfFile(path, len(writer.pages), _write_atomically(writer, path))
    shutil.rmtree(parts_dir, ignore_errors=True)
    return Printed(pack=pack, scorecards=scorecards, pack_starts=starts)
