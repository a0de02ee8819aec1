"""Build the Evidence report from the warehouse and publish it with its PDFs, or change nothing.

The steps: copy the warehouse into the report's source folder (publishing.py), write the pages
generated from the warehouse and the docs (content.py), run Evidence's npm steps and check what
they hide (evidence.py), print the division pack and the LDUs' scorecards from the finished
build with one browser (pdf.py, browser.py), then install the site and the PDFs together.
The site is a single-page app whose pages query the data in the reader's browser, so a build
whose pages did not change is reused with the month's data (evidence.py), and the printer,
which opens every page once, is the check of every page's queries. A failure at any step
leaves the last good report in place.
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
    checked_routes,
    missing_pages,
    pack_file_name,
    read_facts,
    scorecard_file_name,
    write_methods_page,
)
from orchestration.reporting.evidence import (
    DATA_DIR,
    SOURCE_NAME,
    TEMPLATE_BUILD_DIR,
    ReportBuildError,
    build_key,
    cached_build,
    check_build,
    check_project,
    check_sources,
    default_project_dir,
    find_npm,
    keep_build,
    npm_env,
    run_step,
    with_fresh_data,
)
from orchestration.reporting.pdf import PdfError, find_chromium, print_reports
from orchestration.reporting.publishing import copy_warehouse, install_site, project_lock

WAREHOUSE_COPY = "warehouse.duckdb"
"""File name of the warehouse copy in the source folder; `connection.yaml` names it."""


@dataclass(frozen=True)
class ReportResult:
    """What a build produced: the published site and PDFs, and how long each step took."""

    site_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)
    log_file: Path | None = None
    pack_path: Path | None = None
    pack_pages: int = 0
    scorecards: dict[str, Path] = field(default_factory=dict)  # by LDU code
    scorecard_pages: dict[str, int] = field(default_factory=dict)
    facts: ReportFacts | None = None


def last_good_report(out_dir: Path) -> str:
    """Say what a reader still has after a failed build: the published site and newest pack."""
    site = out_dir / "site" / "index.html"
    pdfs = sorted(out_dir.glob("icw-pack-*.pdf"))
    if not site.is_file() and not pdfs:
        return "there is no earlier report to keep"
    parts = []
    if site.is_file():
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(site.stat().st_mtime))
        parts.append(f"the site built {built} ({site.parent})")
    if pdfs:
        parts.append(f"the division pack {pdfs[-1]} and its scorecards")
    return "the last good report stays in place: " + " and ".join(parts)


def build_report(
    warehouse: Path,
    out_dir: Path,
    project_dir: Path | None = None,
    log: Callable[[str], None] = print,
    methods_file: Path | None = None,
    with_pdf: bool = True,
) -> ReportResult:
    """Build the report from `warehouse`; publish it as `out_dir/site` with the PDFs beside it.

    The caller makes sure the warehouse file is complete (checkpointed, no writer mid-run); this
    function only copies it. Builds of the same project are serialised by a lock file, because
    Evidence works in fixed folders inside the project. The full output of the npm steps is
    written to `out_dir/report-build.log`. The PDFs are the division pack
    `out_dir/icw-pack-<YYYY-MM>.pdf` and one scorecard per LDU,
    `out_dir/icw-scorecard-<LDU>-<YYYY-MM>.pdf`, named by the reporting month. `with_pdf=False`
    skips the browser (the site alone, for quick checks; the pages left to the browser are
    then not checked).

    Raises:
        ReportBuildError: a precondition is missing or a step failed; the published site and
            PDFs, if any, are untouched.
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
    staging = out_dir / f".pdfs-{uuid.uuid4().hex}.tmp"
    printed = None

    try:
        with project_lock(project_dir, log), log_file.open("w", encoding="utf-8") as log_stream:
            started = time.monotonic()
            copy = project_dir / "sources" / SOURCE_NAME / WAREHOUSE_COPY
            copy_warehouse(warehouse, copy)
            facts = read_facts(copy)
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

            built = project_dir / "build"
            key = build_key(project_dir)
            kept = cached_build(project_dir, key)
            if kept is not None:
                started = time.monotonic()
                shutil.copytree(kept, built)
                seconds["build"] = time.monotonic() - started
                log(f"report: pages unchanged since the last build ({key}): reused it")
            else:
                seconds["build"], output = run_step(
                    "npm run build", [str(npm), "run", "build:strict"], project_dir, env, log,
                    log_stream,
                )
                check_build(output)
                if not (built / "index.html").is_file():
                    raise ReportBuildError(
                        f"npm run build: finished but {built / 'index.html'} is missing; see "
                        f"{log_file}"
                    )
                missing = missing_pages(built)
                if missing:
                    raise ReportBuildError(
                        f"npm run build: pages missing from the site: {', '.join(missing[:8])}"
                        + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
                    )
                keep_build(project_dir, key, built)
            with_fresh_data(project_dir, built)

            if chromium is not None:
                started = time.monotonic()
                printed = print_reports(
                    built, staging, facts, chromium, check_routes=checked_routes(facts), log=log
                )
                seconds["pdf"] = time.monotonic() - started
                cards = printed.scorecards.values()
                log(
                    f"report: printed the pack ({printed.pack.pages} pages, "
                    f"{printed.pack.size / 1e6:.2f} MB) and {len(cards)} scorecards (at most "
                    f"{max((c.pages for c in cards), default=0)} pages, "
                    f"{max((c.size for c in cards), default=0) / 1e6:.2f} MB) "
                    f"in {seconds['pdf']:.1f} s"
                )

            started = time.monotonic()
            site_dir = install_site(built, out_dir)
            pack_path, scorecards = None, {}
            if printed is not None:  # each file renamed into place, after the site
                for code, card in printed.scorecards.items():
                    scorecards[code] = out_dir / scorecard_file_name(facts, code)
                    os.replace(card.path, scorecards[code])
                pack_path = out_dir / pack_file_name(facts)
                os.replace(printed.pack.path, pack_path)
            seconds["install"] = time.monotonic() - started
    except (ReportContentError, PdfError) as exc:
        raise ReportBuildError(str(exc), getattr(exc, "output", "")) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(
        f"report: published {site_dir}"
        + (f", {pack_path} and {len(scorecards)} scorecards" if pack_path else "")
        + " ("
        + ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items())
        + ")"
    )
    return ReportResult(
        site_dir=site_dir,
        seconds=seconds,
        log_file=log_file,
        pack_path=pack_path,
        pack_pages=printed.pack.pages if printed else 0,
        scorecards=scorecards,
        scorecard_pages={code: c.pages for code, c in printed.scorecards.items()}
        if printed
        else {},
        facts=facts,
    )
