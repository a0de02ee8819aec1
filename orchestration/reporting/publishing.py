"""Publishing a report: readers only ever see a whole site, and a failed build changes nothing.

- Evidence opens its DuckDB source read-only, which still conflicts with a writer holding the
  lock, so the report reads a copy of the warehouse placed in its source folder.
- `npm run build` copies into `build/` over what is there; the finished site is installed beside
  the published one and swapped in, so a failed build leaves the last good one in place.
- Evidence works in fixed folders inside the project, so builds of one project are serialised.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def project_lock(project_dir: Path, log: Callable[[str], None]) -> Iterator[None]:
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

def copy_warehouse(warehouse: Path, target: Path) -> None:
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

def install_site(built: Path, out_dir: Path) -> Path:
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
