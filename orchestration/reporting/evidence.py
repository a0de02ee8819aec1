"""Evidence's npm steps, run so that their failures are seen (Evidence 39's habits).

Evidence 39 (see docs/decisions.md) has habits that this module exists to contain:

- `npm run sources` logs a failed source query and exits 0, leaving the previous run's parquet
  in place; a report could silently show last month's figures. Stale data is removed before the
  run and every source query must have written a fresh result afterwards (an empty result writes
  none, and pages reading it would fail, so it counts as a failure too).
- `npm run build:strict` fails on compile errors, but a page query that fails while pages are
  prerendered is only logged (`<query> | Error in Query!`) and the build exits 0; the output is
  searched for it.
- A hung step (Evidence 40 waits for ever on a download) is killed with its process group.

The site is built as a single-page app (`VITE_EVIDENCE_SPA=true`): no page is prerendered, and
every page runs its queries in the reader's browser from the parquet files of `npm run
sources`, so the build holds no data and is kept (`BUILD_CACHE`), keyed by a hash of everything
it is made from (`build_key`). A month whose pages did not change reuses it with the new data;
the 1-3 minute `npm run build` runs only when pages, sources or packages change. Query errors
then surface only in the browser, where the printer checks every page (reporting/browser.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

SOURCE_NAME = "icw"
"""The Evidence source folder (`reports/sources/icw`), and the schema prefix pages query."""

STEP_TIMEOUT_SECONDS = 20 * 60
"""A step that runs longer than this is hung (Evidence 40 waits for ever on a download)."""

DATA_DIR = Path(".evidence", "template", "static", "data")

TEMPLATE_BUILD_DIR = Path(".evidence", "template", "build")

BUILD_CACHE = Path(".evidence", "icw-build-cache")
"""Kept builds, one folder per `build_key` (inside Evidence's own gitignored working folder)."""

#: What a build is made from, relative to the project: a change to any of these rebuilds.
BUILD_INPUTS = (
    "pages", "sources", "svelte.config.js", "evidence.plugins.yaml", "evidence.settings.json",
    "package.json", "package-lock.json",
)

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

def npm_env() -> dict[str, str]:
    """The environment of the npm steps: no telemetry, no colour codes, a single-page app."""
    env = dict(os.environ)
    env.update(
        {
            "VITE_EVIDENCE_SPA": "true",
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

def run_step(
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

def check_sources(project_dir: Path, output: str) -> None:
    """Check that every source query wrote a fresh result, since Evidence exits 0 when one fails.

    The data folder was emptied before the run, so a result that exists now is this run's. An
    empty result is an error too: Evidence 39 writes no table for it, so every page query that
    reads it would fail.
    """
    data_dir = project_dir / DATA_DIR
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

def check_build(output: str) -> None:
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


def build_key(project_dir: Path) -> str:
    """A hash of every file the site is built from (`BUILD_INPUTS`), data files excluded."""
    digest = hashlib.sha256()
    for name in BUILD_INPUTS:
        root = project_dir / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if not path.is_file() or path.suffix in {".duckdb", ".wal", ".parquet"}:
                continue
            digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def cached_build(project_dir: Path, key: str) -> Path | None:
    """The kept build for `key`, if there is a whole one."""
    kept = project_dir / BUILD_CACHE / key
    return kept if (kept / "index.html").is_file() else None


def keep_build(project_dir: Path, key: str, built: Path) -> None:
    """Keep a finished build (without its data) as the only one, for the next report."""
    cache = project_dir / BUILD_CACHE
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{key}.tmp"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(built, partial, ignore=lambda folder, names: (
        ["data"] if Path(folder) == built else []))
    for old in cache.iterdir():
        if old != partial:
            shutil.rmtree(old, ignore_errors=True)
    os.replace(partial, cache / key)


def with_fresh_data(project_dir: Path, built: Path) -> None:
    """Put this run's `npm run sources` output in the build, as the build itself would."""
    shutil.rmtree(built / "data", ignore_errors=True)
    shutil.copytree(project_dir / DATA_DIR, built / "data")
