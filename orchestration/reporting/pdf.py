"""Print the built report into one PDF with headless Chromium: a cover, then every section.

Chromium comes from the Debian package (`make chromium`); nothing here downloads a browser.
Each page of the site is printed on its own (Evidence pages load their data after first paint,
so Chromium is given virtual time to let them finish), the parts are merged with pypdf, and
the cover, printed last, lists the sections with the page each starts on. The PDF carries the
same contents as bookmarks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from orchestration.reporting.content import ReportFacts, Section

PRINT_TIMEOUT_SECONDS = 180
"""A page that takes longer than this to print is hung."""

PRINT_WORKERS = 2
"""Pages printed at once: each Chromium is mostly single-threaded."""


class PdfError(RuntimeError):
    """A page could not be printed; `output` keeps Chromium's error output."""

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
    files; yields the base URL, without a trailing slash.
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


def chromium_command(chromium: Path, profile_dir: Path) -> list[str]:
    """Headless Chromium that touches no network but the site (docs/stack.md, Evidence)."""
    return [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        "--virtual-time-budget=10000",
    ]


def print_page(chromium: Path, url: str, target: Path, work_dir: Path) -> Path:
    """Print one URL to `target` with a fresh Chromium profile."""
    profile = work_dir / f"profile-{target.stem}"
    command = chromium_command(chromium, profile) + [
        f"--print-to-pdf={target}",
        "--no-pdf-header-footer",
        url,
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PdfError(f"Chromium printed nothing for {url} in {PRINT_TIMEOUT_SECONDS} s") from exc
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()][-3:]
        raise PdfError(
            f"Chromium could not print {url} to PDF (exit {done.returncode}): "
            + (" | ".join(lines) or "no output"),
            done.stderr,
        )
    return target


def render_pdf(
    site_dir: Path,
    pdf_path: Path,
    pages: list[str],
    chromium: Path | None = None,
) -> Path:
    """Print the given pages of a built site (paths such as "/") into one PDF, in order."""
    from pypdf import PdfWriter  # only the PDF step needs it

    if not pages:
        raise ValueError("render_pdf needs at least one page")
    chromium = chromium or find_chromium()
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="icw-pdf-") as tmp, serve_directory(site_dir) as url:
        parts = _print_all(chromium, url, pages, Path(tmp))
        writer = PdfWriter()
        for part in parts:
            writer.append(str(part))
        _write_atomically(writer, pdf_path)
    return pdf_path


def _print_all(chromium: Path, base_url: str, routes: list[str], work_dir: Path) -> list[Path]:
    """Print each route to its own PDF, a few at a time, returning them in route order."""
    targets = [work_dir / f"part-{i:03d}.pdf" for i in range(len(routes))]
    with ThreadPoolExecutor(max_workers=PRINT_WORKERS) as pool:
        futures = [
            pool.submit(print_page, chromium, base_url + "/" + route.lstrip("/"), target, work_dir)
            for route, target in zip(routes, targets, strict=True)
        ]
        return [future.result() for future in futures]


def _write_atomically(writer, pdf_path: Path) -> None:
    partial = pdf_path.with_name(f".{pdf_path.name}.tmp")
    with partial.open("wb") as f:
        writer.write(f)
    os.replace(partial, pdf_path)


@dataclass(frozen=True)
class PdfPack:
    """The PDF written, its page count, and the page each section starts on (1-based)."""

    path: Path
    pages: int
    starts: dict[str, int]


def cover_html(facts: ReportFacts, starts: dict[str, int], built_at: dt.datetime) -> str:
    """The cover: title, reporting month, the data's as-at date, and the contents."""
    as_at = facts.as_at_date.strftime("%-d %B %Y") if facts.as_at_date else "not recorded"
    rows = "\n".join(
        f"<tr><td>{html.escape(title)}</td><td class='page'>{page}</td></tr>"
        for title, page in starts.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ICW monthly report {facts.month_label}</title>
<style>
  @page {{ size: A4; margin: 22mm 20mm; }}
  body {{ font-family: Inter, 'Helvetica Neue', Arial, sans-serif; color: #0b0c0c; margin: 0; }}
  .band {{ border-left: 8px solid #1d70b8; padding: 4mm 0 4mm 8mm; margin-top: 30mm; }}
  .kicker {{ font-size: 13pt; color: #505a5f; margin: 0 0 3mm; }}
  h1 {{ font-size: 30pt; margin: 0 0 6mm; line-height: 1.1; }}
  .month {{ font-size: 22pt; font-weight: 700; margin: 0 0 2mm; }}
  .asat {{ font-size: 13pt; margin: 0; }}
  h2 {{ font-size: 13pt; margin: 24mm 0 3mm; }}
  table {{ border-collapse: collapse; width: 110mm; font-size: 11pt; }}
  td {{ padding: 1.6mm 0; border-bottom: 1px solid #d0d3d4; }}
  td.page {{ text-align: right; }}
  .foot {{ position: fixed; bottom: 0; font-size: 9pt; color: #505a5f; }}
</style></head>
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
Figures broken down by gender, ethnicity or age are disclosure-controlled ([c]).
The interactive version of this report has the same pages.</p>
</body></html>
"""


def build_pdf_pack(
    site_dir: Path,
    pdf_path: Path,
    facts: ReportFacts,
    sections: list[Section],
    chromium: Path | None = None,
    log: Callable[[str], None] = print,
) -> PdfPack:
    """Print every section of the built site, then the cover, into one PDF with bookmarks."""
    from pypdf import PdfReader, PdfWriter

    chromium = chromium or find_chromium()
    routes = [route for section in sections for route in section.routes]
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="icw-pdf-") as tmp, serve_directory(site_dir) as url:
        work = Path(tmp)
        log(f"report: printing {len(routes)} pages to PDF ...")
        parts = _print_all(chromium, url, routes, work)
        counts = [len(PdfReader(str(part)).pages) for part in parts]

        starts: dict[str, int] = {}
        page = 2  # the cover is page 1
        index = 0
        for section in sections:
            starts[section.title] = page
            for _ in section.routes:
                page += counts[index]
                index += 1

        cover_file = work / "cover.html"
        cover_pdf = work / "cover.pdf"
        cover_file.write_text(cover_html(facts, starts, dt.datetime.now()), encoding="utf-8")
        print_page(chromium, cover_file.as_uri(), cover_pdf, work)
        if len(PdfReader(str(cover_pdf)).pages) != 1:
            raise PdfError("the cover did not fit on one page")

        writer = PdfWriter()
        writer.append(str(cover_pdf))
        for part in parts:
            writer.append(str(part))
        writer.add_outline_item("Cover", 0)
        index = 0
        for section in sections:
            parent = writer.add_outline_item(section.title, starts[section.title] - 1)
            at = starts[section.title] - 1
            for label in section.labels or ("",) * len(section.routes):
                if label:
                    writer.add_outline_item(label, at, parent=parent)
                at += counts[index]
                index += 1
        writer.add_metadata(
            {
                "/Title": f"ICW monthly report, {facts.month_title}",
                "/Subject": f"Reporting month {facts.month_label}; data as at "
                f"{facts.as_at_date.isoformat() if facts.as_at_date else 'not recorded'}",
            }
        )
        _write_atomically(writer, pdf_path)
        total = len(writer.pages)
    return PdfPack(path=pdf_path, pages=total, starts=starts)
