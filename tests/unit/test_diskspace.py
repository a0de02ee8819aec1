"""The free-space rule and the recognition of a full disk (docs/operations.md, Disk space)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from orchestration.core import diskspace
from orchestration.core.settings import Settings

pytestmark = pytest.mark.unit

MB = diskspace.MB


def settings_for(home: Path) -> Settings:
    return Settings.from_env({"ICW_HOME": str(home)})


def test_the_rule_is_the_warehouse_once_per_copy_ten_times_the_landing_folder_and_a_margin(
    tmp_path: Path,
):
    settings = settings_for(tmp_path)
    settings.landing_dir.mkdir(parents=True)
    (settings.landing_dir / "caseload_2024-04-30.csv").write_bytes(b"x" * (3 * MB))
    settings.warehouse.write_bytes(b"x" * (5 * MB))
    settings.warehouse.with_name(settings.warehouse.name + ".wal").write_bytes(b"x" * MB)
    assert diskspace.space_needed(settings, report=False).total == 6 * MB + 30 * MB + 100 * MB
    assert diskspace.space_needed(settings, report=True).total == 12 * MB + 30 * MB + 100 * MB
    assert diskspace.space_needed(settings, report=True, load=False).total == 112 * MB


def test_a_refresh_that_would_not_fit_is_refused_with_one_line(tmp_path: Path, monkeypatch):
    settings = settings_for(tmp_path)
    monkeypatch.setattr(diskspace, "free_space", lambda _path: 50 * MB)
    with pytest.raises(diskspace.DiskFull) as refused:
        diskspace.check_free_space(settings, report=False)
    message = str(refused.value)
    assert message.startswith(f"the refresh was not started: the disk holding ICW_HOME "
                              f"({tmp_path}) has 50 MB free and a refresh needs about 100 MB")
    assert "\n" not in message and "unchanged" in message
    monkeypatch.setattr(diskspace, "free_space", lambda _path: 101 * MB)
    assert diskspace.check_free_space(settings, report=False).total == 100 * MB


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    RuntimeError("IO Error: Could not write file: No space left on device"),
    sqlite3.OperationalError("disk I/O error"),
    sqlite3.OperationalError("database or disk is full"),
])
def test_a_full_disk_is_recognised_in_any_of_its_words(error: BaseException):
    assert diskspace.is_disk_full(error)
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = error
    assert diskspace.is_disk_full(wrapped)


def test_other_failures_are_not_a_full_disk():
    assert not diskspace.is_disk_full(RuntimeError("Catalog Error: Table marts.periods"))
    assert not diskspace.is_disk_full(OSError(errno.EACCES, "Permission denied"))
