"""Build the Evidence report from the warehouse and publish it, keeping the last good site.

Evidence 39 (see STACK_NOTES.md) has habits that this module exists to contain:

- It opens its DuckDB source read-only, which still conflicts with a writer holding the lock, so
  the report reads a copy of the warehouse placed in its source folder.
- `npm run sources` logs a failed source query and exits 0, leaving the previous run's parquet
  in place; a report could silently show last month's figures. Stale data is removed before the
  run and every source query must have written a fresh result afterwards (an empty result writes
  none, and pages reading it would fail, so it counts as a failure too).
- `npm run build:strict` fails on compile errors, but a page query that fails while pages are
  prerendered is only logged (`<query> | Error in Query!`) and the build exits 0; the output is
  searched for it.
- `npm run build` copies into `build/` over what is there. The folder is emptied first, and the
  finished site is installed beside the published one and swapped in, so readers only ever see a
  whole site and a failed build leaves the last good one in place.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import functools
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

SOURCE_NAME = "icw"
"""The Evidence source folder (`reports/sources/icw`), and the schema prefix pages query."""

WAREHOUSE_COPY = "warehouse.duckdb"
"""File name of the warehouse copy in the source folder; `connection.yaml` names it."""

STEP_TIMEOUT_SECONDS = 20 * 60
"""A step that runs longer than this is hung (Evidence 40 waits for ever on a download)."""

_DATA_DIR = Path(".evidence", "template", "static", "data")
_TEMPLATE_BUILD_DIR = Path(".evidence", "template", "build")

# Lines of npm and Evidence output that are noise when explaining a failure.
_NOISE = re.compile(
    r"^\s*$|^\s*>|npm (notice|warn)|^\s*at |node_modules/|^\s*-+\s*$|✔|Processing|"
    r"^\s*\[(Skipping|Processing)\]"
)
_ERRORISH = re.compile(r"error|failed|✖|✘|cannot|could not|not found|exception", re.IGNORECASE)


class ReportBuildError(RuntimeError):
    """The report could not be built; the message is one line naming the step and the cause.

    `output` keeps the step's whole output for the log, because the one-line message can only
    carry its last meaningful lines.
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(" ".join(message.split()))
        self.output = output


@dataclass(frozen=True)
class ReportResult:
    """What a build produced: where the published site is, and how long each step took."""

    site_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)
    log_file: Path | None = None


def default_project_dir() -> Path:
    """The Evidence project of this repository (`reports/`)."""
    return Path(__file__).resolve().parents[2] / "reports"


def find_npm() -> Path:
    """Locate npm, failing with what to install rather than a bare FileNotFoundError."""
    npm = shutil.which("npm")
    if npm is None:
        raise ReportBuildError(
            "npm not found on PATH: install Node.js 20 (with npm), then run `make install`"
        )
    return Path(npm)


def find_chromium() -> Path:
    """Locate Debian's Chromium, which renders the PDF; no test or build downloads a browser."""
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return Path(found)
    if Path("/usr/bin/chromium").exists():
        return Path("/usr/bin/chromium")
    raise ReportBuildError(
        "Chromium not found: install it (`apt-get install chromium` on Debian) to render the PDF"
    )


def check_project(project_dir: Path) -> None:
    """Fail early, with the fix, when the Evidence project or its npm packages are missing.

    Without this, a missing `node_modules` surfaces as `sh: 1: evidence: not found` from npm.
    """
    if not (project_dir / "package.json").is_file():
        raise ReportBuildError(f"no Evidence project at {project_dir} (package.json missing)")
    if not (project_dir / "node_modules" / "@evidence-dev" / "evidence").is_dir():
        raise ReportBuildError(
            "run `make install` (npm packages missing in "
            f"{project_dir.name}/node_modules, looked in {project_dir / 'node_modules'})"
        )


def build_report(
    warehouse: Path,
    out_dir: Path,
    project_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> ReportResult:
    """Build the report from `warehouse` and publish it as `out_dir/site`.

    The caller makes sure the warehouse file is complete (checkpointed, no writer mid-run); this
    function only copies it. Builds of the same project are serialised by a lock file, because
    Evidence works in fixed folders inside the project. The full output of the npm steps is
    written to `out_dir/report-build.log`.

    Raises:
        ReportBuildError: a precondition is missing or a step failed; the published site, if
            any, is untouched.
    """
    project_dir = (project_dir or default_project_dir()).resolve()
    warehouse = warehouse.resolve()
    if not warehouse.is_file():
        raise ReportBuildError(f"warehouse not found: {warehouse}")
    npm = find_npm()
    check_project(project_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_file = out_dir / "report-build.log"
    seconds: dict[str, float] = {}

    with _project_lock(project_dir, log), log_file.open("w", encoding="utf-8") as log_stream:
        started = time.monotonic()
        _copy_warehouse(warehouse, project_dir / "sources" / SOURCE_NAME / WAREHOUSE_COPY)
        seconds["copy"] = time.monotonic() - started
        log(f"report: copied {warehouse.name} into sources/{SOURCE_NAME}/")

        for stale in (
            project_dir / _DATA_DIR,
            project_dir / _TEMPLATE_BUILD_DIR,
            project_dir / "build",
        ):
            shutil.rmtree(stale, ignore_errors=True)

        env = _npm_env()
        seconds["sources"], output = _run_step(
            "npm run sources", [str(npm), "run", "sources"], project_dir, env, log, log_stream
        )
        _check_sources(project_dir, output)

        seconds["build"], output = _run_step(
            "npm run build", [str(npm), "run", "build:strict"], project_dir, env, log, log_stream
        )
        _check_build(output)
        built = project_dir / "build"
        if not (built / "index.html").is_file():
            raise ReportBuildError(
                f"npm run build: finished but {built / 'index.html'} is missing; see {log_file}"
            )

        started = time.monotonic()
        site_dir = _install_site(built, out_dir)
        seconds["install"] = time.monotonic() - started
    log(
        f"report: published {site_dir} ("
        + ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items())
        + ")"
    )
    return ReportResult(site_dir=site_dir, seconds=seconds, log_file=log_file)


@contextlib.contextmanager
def _project_lock(project_dir: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on the project; the kernel drops it if the process dies."""
    with (project_dir / ".build.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"report: waiting for another build of {project_dir} to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _copy_warehouse(warehouse: Path, target: Path) -> None:
    """Copy the warehouse (and its WAL, which holds committed work) next to the report's queries.

    The copy is written under a temporary name and renamed, so a half-copied file is never read,
    and made read-only because nothing should write to it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for source, destination in (
        (warehouse, target),
        (warehouse.with_name(warehouse.name + ".wal"), target.with_name(target.name + ".wal")),
    ):
        destination.unlink(missing_ok=True)
        if not source.exists():
            continue
        partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(source, partial)
            partial.chmod(0o444)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)


def _npm_env() -> dict[str, str]:
    """The environment of the npm steps: no telemetry, no colour codes in the captured output."""
    env = dict(os.environ)
    env.update(
        {
            "send_anonymous_usage_stats": "no",
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "CI": "1",
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
        }
    )
    return env


def _run_step(
    step: str,
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    log: Callable[[str], None],
    log_stream: TextIO,
) -> tuple[float, str]:
    """Run one npm step in its own process group, so a hang can be killed with its children."""
    log(f"report: {step} ...")
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=STEP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        _write_log(log_stream, step, output)
        raise ReportBuildError(
            f"{step}: no result after {STEP_TIMEOUT_SECONDS} s, stopped", output
        ) from None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    elapsed = time.monotonic() - started
    _write_log(log_stream, step, output)
    if process.returncode != 0:
        raise ReportBuildError(
            f"{step} failed (exit {process.returncode}): {_last_meaningful_lines(output)}", output
        )
    log(f"report: {step} done in {elapsed:.1f} s")
    return elapsed, output


def _write_log(log_stream: TextIO, step: str, output: str) -> None:
    log_stream.write(f"===== {step}\n{output}\n")
    log_stream.flush()


def _last_meaningful_lines(output: str, count: int = 3) -> str:
    """The lines that explain a failure: the last error-like ones, else the last non-noise ones."""
    lines = [_strip_ansi(line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not _NOISE.search(line)]
    errorish = [line for line in lines if _ERRORISH.search(line)]
    chosen = (errorish or lines)[-count:]
    return " | ".join(dict.fromkeys(chosen)) or "no output"


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def _check_sources(project_dir: Path, output: str) -> None:
    """Check that every source query wrote a fresh result, since Evidence exits 0 when one fails.

    The data folder was emptied before the run, so a result that exists now is this run's. An
    empty result is an error too: Evidence 39 writes no table for it, so every page query that
    reads it would fail.
    """
    data_dir = project_dir / _DATA_DIR
    queries = sorted(p.stem for p in (project_dir / "sources" / SOURCE_NAME).glob("*.sql"))
    missing = [
        name
        for name in queries
        if not (data_dir / SOURCE_NAME / name / f"{name}.parquet").is_file()
    ]
    if not missing:
        return
    lines = [_strip_ansi(line).strip() for line in output.splitlines()]
    empty = [
        name
        for name in missing
        if any(re.match(rf"{re.escape(name)} \S+ Finished, wrote 0 rows", line) for line in lines)
    ]
    errors = [line for line in lines if re.search(r"✖|Error", line)]
    problems = []
    if empty:
        problems.append(
            f"source queries {_qualified(empty)} returned no rows (Evidence 39 writes no table "
            "for an empty result; check the warehouse's marts are built)"
        )
    failed = [name for name in missing if name not in empty]
    if failed:
        problems.append(
            f"source queries {_qualified(failed)} wrote no data: "
            + (" | ".join(errors[-3:]) or "no error reported")
        )
    raise ReportBuildError("npm run sources: " + "; ".join(problems), output)


def _qualified(queries: list[str]) -> str:
    return ", ".join(f"{SOURCE_NAME}.{query}" for query in queries)


def _check_build(output: str) -> None:
    """Fail on a page query that failed while the pages were prerendered.

    Even `build:strict` (run so that compile errors fail) only logs `<query> | Error in Query!`
    and exits 0, publishing a page with an error box where the figures should be.
    """
    failed = [
        _strip_ansi(line).strip() for line in output.splitlines() if "| Error in Query!" in line
    ]
    if failed:
        raise ReportBuildError(
            f"npm run build: page queries failed: {' | '.join(dict.fromkeys(failed))}", output
        )


def _install_site(built: Path, out_dir: Path) -> Path:
    """Copy the build beside the published site, then swap the two in one step.

    The copy happens first, so a full disk or a crash leaves the published site whole. The swap
    is one `renameat2(RENAME_EXCHANGE)` where the kernel offers it, else two renames.
    """
    site = out_dir / "site"
    staging = out_dir / f".site-{uuid.uuid4().hex}.tmp"
    try:
        shutil.copytree(built, staging)
        if site.exists():
            _exchange(staging, site)
            shutil.rmtree(staging)  # now the previous site
        else:
            os.replace(staging, site)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return site


def _exchange(a: Path, b: Path) -> None:
    """Atomically swap two paths (Linux renameat2), falling back to two renames."""
    libc_name = ctypes.util.find_library("c")
    renameat2 = (
        getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None) if libc_name else None
    )
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
        if result == 0:
            return
    aside = b.with_name(f".{b.name}-{uuid.uuid4().hex}.old")
    os.replace(b, aside)
    os.replace(a, b)
    os.replace(aside, a)


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
    """Headless Chromium that touches no network but the site (STACK_NOTES.md, Evidence)."""
    return [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        "--virtual-time-budget=10000",
    ]


def render_pdf(
    site_dir: Path,
    pdf_path: Path,
    pages: list[str],
    chromium: Path | None = None,
) -> Path:
    """Print the given pages of a built site (paths such as "/") into one PDF.

    Pages load their data after first paint, hence the virtual time budget: Chromium lets the
    page's timers and fetches run before printing.
    """
    from pypdf import PdfWriter  # only the PDF step needs it

    if not pages:
        raise ValueError("render_pdf needs at least one page")
    chromium = chromium or find_chromium()
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="icw-pdf-") as tmp, serve_directory(site_dir) as url:
        writer = PdfWriter()
        for number, page in enumerate(pages):
            part = Path(tmp) / f"page-{number}.pdf"
            command = chromium_command(chromium, Path(tmp) / f"profile-{number}") + [
                f"--print-to-pdf={part}",
                "--no-pdf-header-footer",
                url + "/" + page.lstrip("/"),
            ]
            done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
            if done.returncode != 0 or not part.is_file() or part.stat().st_size == 0:
                raise ReportBuildError(
                    f"Chromium could not print {page} to PDF (exit {done.returncode}): "
                    f"{_last_meaningful_lines(done.stderr)}",
                    done.stderr,
                )
            writer.append(str(part))
        partial = pdf_path.with_name(f".{pdf_path.name}.tmp")
        with partial.open("wb") as f:
            writer.write(f)
        os.replace(partial, pdf_path)
    return pdf_path
