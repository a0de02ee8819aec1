"""Shared fixtures: small generated extracts and a refreshed temporary warehouse."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestration.core.settings import Settings

SMALL = {"people": 1500, "start": "2023-10", "months": 14, "seed": 7}


@contextmanager
def icw_environment(home: Path, **extra: str) -> Iterator[Settings]:
    """Point every ICW setting at home for the block, restoring the environment after."""
    keys = ("ICW_HOME", "ICW_LANDING_DIR", "ICW_WAREHOUSE", "DAGSTER_HOME", *extra)
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["ICW_HOME"] = str(home)
    os.environ["ICW_LANDING_DIR"] = str(home / "landing")
    os.environ["ICW_WAREHOUSE"] = str(home / "warehouse.duckdb")
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    os.environ.update(extra)
    try:
        yield Settings.from_env()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def small_extracts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated delivery (about 1,500 people, 14 months), made once per session."""
    from orchestration.demo import generate

    out = tmp_path_factory.mktemp("extracts")
    generate(out, **SMALL)
    return out


@pytest.fixture(scope="session")
def ground_truth(small_extracts: Path) -> dict:
    """What the generator planted in the small delivery."""
    return json.loads((small_extracts / "ground_truth.json").read_text())


def land(extracts: Path, landing: Path) -> list[Path]:
    """Copy a generated delivery's extract files into a landing folder."""
    landing.mkdir(parents=True, exist_ok=True)
    copied = []
    for f in sorted(extracts.iterdir()):
        if f.name != "ground_truth.json":
            copied.append(Path(shutil.copy2(f, landing / f.name)))
    return copied


@pytest.fixture(scope="session")
def refreshed_home(tmp_path_factory: pytest.TempPathFactory, small_extracts: Path) -> Path:
    """An ICW_HOME after one `refresh` (no report) of the small delivery."""
    from orchestration.automation.refresh import run_refresh

    home = tmp_path_factory.mktemp("icw home")  # a space in the path, on purpose
    with icw_environment(home) as settings:
        land(small_extracts, settings.landing_dir)
        run_refresh(settings, with_report=False, log=lambda _: None)
    return home
