"""Build the Evidence report from the warehouse and publish it with its PDF, or change nothing.

The steps: copy the warehouse into the report's source folder (publishing.py), write the pages
generated from the warehouse and the docs (content.py), run Evidence's npm steps and check what
they hide (evidence.py), print the PDF pack from the finished build (pdf.py), then install the
site and the PDF together. Templated pages are prerendered only when the build can find them:
the routes are written for `svelte.config.js` from the warehouse copy, and every page the PDF
needs must exist after the build. A failure at any step leaves the last good report in place.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.reporting.content import (
    METHODS_SOURCE,
    ReportContentError,
    ReportFacts,
    missing_pages,
    pdf_sections,
    read_facts,
    write_methods_page,
    write_prerender_entries,
)
from orchestration.reporting.evidence import (
    DATA_DIR,
    SOURCE_NAME,
    TEMPLATE_BUILD_DIR,
    ReportBuildError,
    check_build,
    check_project,
    check_sources,
    default_project_dir,
    find_npm,
    npm_env,
    run_step,
)
from orchestration.reporting.pdf import PdfError, build_pdf_pack, find_chromium
from orchestration.reporting.publishing import copy_warehouse, install_site, project_lock

WAREHOUSE_COPY = "warehouse.duckdb"
"""File name of the warehouse copy in the source folder; `connection.yaml` names it."""


@dataclass(frozen=True)
class ReportResult:
    """What a build produced: the published site and PDF, and how long each step took."""

    site_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)
    log_file: Path | None = None
    pdf_path: Path | None = None
    pdf_pages: int = 0
    facts: ReportFacts | None = None


def pdf_name(facts: ReportFacts) -> str:
    """The PDF's file name: one per reporting month, so earlier months' packs are kept."""
    return f"icw-report-{facts.month_label}.pdf"


def last_good_report(out_dir: Path) -> str:
    """Say what a reader still has after a failed build: the published site and newest PDF."""
    site = out_dir / "site" / "index.html"
    pdfs = sorted(out_dir.glob("icw-report-*.pdf"))
    if not site.is_file() and not pdfs:
        return "there is no earlier report to keep"
    parts = []
    if site.is_file():
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(site.stat().st_mtime))
        parts.append(f"the site built {built} ({site.parent})")
    if pdfs:
        parts.append(f"the PDF {pdfs[-1]}")
    return "the last good report stays in place: " + " and ".join(parts)


def build_report(
    warehouse: Path,
    out_dir: Path,
    project_dir: Path | None = None,
    log: Callable[[str], None] = print,
    methods_file: Path | None = None,
    with_pdf: bool = True,
) -> ReportResult:
    """Build the report from `warehouse`; publish it as `out_dir/site` and the PDF pack beside it.

    The caller makes sure the warehouse file is complete (checkpointed, no writer mid-run); this
    function only copies it. Builds of the same project are serialised by a lock file, because
    Evidence works in fixed folders inside the project. The full output of the npm steps is
    written to `out_dir/report-build.log`. The PDF is `out_dir/icw-report-<YYYY-MM>.pdf`, named
    by the reporting month; `with_pdf=False` skips it (the site alone, for quick checks).

    Raises:
        ReportBuildError: a precondition is missing or a step failed; the published site and
            PDF, if any, are untouched.
    """
    project_dir = (project_dir or default_project_dir()).resolve()
    methods_file = (methods_file or METHODS_SOURCE).resolve()
    warehouse = warehouse.resolve()
    if not warehouse.is_file():
        raise ReportBuildError(f"warehouse not found: {warehouse}")
    if not methods_file.is_file():
        raise ReportBuildError(
            f"{methods_file} is missing: the Methods page is generated from it at every build. "
            "Write (or restore) docs/methods.md, then build the report again"
        )
    npm = find_npm()
    check_project(project_dir)
    chromium = find_chromium() if with_pdf else None
    out_dir.mkdir(parents=True, exist_ok=True)
    log_file = out_dir / "report-build.log"
    seconds: dict[str, float] = {}
    staged_pdf: Path | None = None

    try:
        with project_lock(project_dir, log), log_file.open("w", encoding="utf-8") as log_stream:
            started = time.monotonic()
            copy = project_dir / "sources" / SOURCE_NAME / WAREHOUSE_COPY
            copy_warehouse(warehouse, copy)
            facts = read_facts(copy)
            write_prerender_entries(project_dir, facts)
            write_methods_page(project_dir, methods_file)
            seconds["copy"] = time.monotonic() - started
            log(
                f"report: copied {warehouse.name} into sources/{SOURCE_NAME}/ (reporting month "
                f"{facts.month_label}, {len(facts.ldus)} LDUs, {len(facts.interventions)} "
                "interventions)"
            )

            for stale in (
                project_dir / DATA_DIR,
                project_dir / TEMPLATE_BUILD_DIR,
                project_dir / "build",
            ):
                shutil.rmtree(stale, ignore_errors=True)

            env = npm_env()
            seconds["sources"], output = run_step(
                "npm run sources", [str(npm), "run", "sources"], project_dir, env, log, log_stream
            )
            check_sources(project_dir, output)

            seconds["build"], output = run_step(
                "npm run build", [str(npm), "run", "build:strict"], project_dir, env, log,
                log_stream,
            )
            check_build(output)
            built = project_dir / "build"
            if not (built / "index.html").is_file():
                raise ReportBuildError(
                    f"npm run build: finished but {built / 'index.html'} is missing; see {log_file}"
                )
            missing = missing_pages(built, facts)
            if missing:
                raise ReportBuildError(
                    f"npm run build: pages missing from the site: {', '.join(missing[:8])}"
                    + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
                )

            pack = None
            if with_pdf:
                started = time.monotonic()
                staged_pdf = out_dir / f".{pdf_name(facts)}.{uuid.uuid4().hex}.staged"
                pack = build_pdf_pack(
                    built, staged_pdf, facts, pdf_sections(facts), chromium=chromium, log=log
                )
                seconds["pdf"] = time.monotonic() - started
                log(f"report: printed {pack.pages} PDF pages in {seconds['pdf']:.1f} s")

            started = time.monotonic()
            site_dir = install_site(built, out_dir)
            pdf_path = None
            if staged_pdf is not None:
                pdf_path = out_dir / pdf_name(facts)
                os.replace(staged_pdf, pdf_path)
                staged_pdf = None
            seconds["install"] = time.monotonic() - started
    except (ReportContentError, PdfError) as exc:
        raise ReportBuildError(str(exc), getattr(exc, "output", "")) from exc
    finally:
        if staged_pdf is not None:
            staged_pdf.unlink(missing_ok=True)
    log(
        f"report: published {site_dir}"
        + (f" and {pdf_path}" if pdf_path else "")
        + " ("
        + ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items())
        + ")"
    )
    return ReportResult(
        site_dir=site_dir,
        seconds=seconds,
        log_file=log_file,
        pdf_path=pdf_path,
        pdf_pages=pack.pages if pack else 0,
        facts=facts,
    )


