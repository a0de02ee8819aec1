"""A full disk is one line that says so, and the published tables stay (issue 10, item 8).

The warehouse lives on a small tmpfs mounted for the test (CI runs as root, as these machines
do); where mounting is not permitted the tests are skipped, saying why.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from orchestration.core import diskspace
from orchestration.core.settings import Settings
from orchestration.transformation import dbt_guard
from tests.conftest import land
from tests.integration.test_resilience import icw

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def mounted_tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A filesystem of its own (tmpfs) of the given size, unmounted after the test."""
    mount_point = tmp_path / "small disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """60 MB: too small, by the rule, for a first refresh of the small delivery (121 MB)."""
    yield from mounted_tmpfs(tmp_path, "60m")


@pytest.fixture
def roomy_disk(tmp_path: Path) -> Iterator[Path]:
    """200 MB: room, by the rule, to rebuild the small delivery's warehouse (about 115 MB)."""
    yield from mounted_tmpfs(tmp_path, "200m")


def fill(disk: Path) -> Path:
    """Take every free byte of the disk with one file."""
    filler = disk / "filler"
    with filler.open("wb") as f:
        chunk = b"\0" * (1024 * 1024)
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
    return filler


def marts(warehouse: Path) -> dict[str, list]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()]
        return {t: con.execute(f"select * from marts.{t} order by all").fetchall()
                for t in tables}
    finally:
        con.close()


def test_a_refresh_that_would_not_fit_is_not_started_and_says_how_much_it_needs(
    tmp_path: Path, small_disk: Path, small_extracts: Path
):
    home = small_disk / "home"
    landed = land(small_extracts, home / "landing")
    log = tmp_path / "no room"
    run = icw(home, "refresh", "--no-report", log=log)
    assert run.wait(timeout=300) == 1
    err = log.with_suffix(".err").read_text()
    last = err.strip().splitlines()[-1]
    needed = diskspace.space_needed(Settings.from_env({"ICW_HOME": str(home)}), report=False)
    assert last.startswith(f"icw refresh: the refresh was not started: the disk holding "
                           f"ICW_HOME ({home}) has ")
    assert f"a refresh needs about {needed.total / diskspace.MB:,.0f} MB" in last
    assert "The published marts and report are unchanged" in last and "Traceback" not in err
    assert sorted((home / "landing").iterdir()) == sorted(landed)  # nothing was touched
    assert not (home / "warehouse.duckdb").exists()


def test_a_disk_that_fills_up_during_dbt_is_one_line_and_the_marts_stay(
    tmp_path: Path, roomy_disk: Path, refreshed_home: Path
):
    """The small delivery's warehouse, nothing to load; another program fills the disk."""
    home = roomy_disk / "home"
    (home / "landing").mkdir(parents=True)
    shutil.copy2(refreshed_home / "warehouse.duckdb", home / "warehouse.duckdb")
    before = marts(home / "warehouse.duckdb")
    log = tmp_path / "full"
    run = icw(home, "refresh", "--no-report", log=log)
    lock = dbt_guard.lock_path(home)
    while "(dbt, started by" not in (lock.read_text() if lock.exists() else ""):
        assert run.poll() is None, log.with_suffix(".err").read_text()[-3000:]
        time.sleep(0.05)
    filler = fill(roomy_disk)  # another program takes the rest of the disk
    assert run.wait(timeout=600) == 1
    err, out = log.with_suffix(".err").read_text(), log.with_suffix(".out").read_text()
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"icw refresh: the refresh ran out of disk space: the disk holding "
                           f"ICW_HOME ({home}) has "), err[-3000:]
    assert "The published marts and report are unchanged" in last
    assert "Traceback" not in err + out and "Stack Trace" not in err + out
    filler.unlink()
    assert marts(home / "warehouse.duckdb") == before
