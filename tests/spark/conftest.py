"""tests/spark: the same small division refreshed on DuckDB and on Spark (docs/spark.md).

Skipped, with the reason shown in pytest's summary, where Java or pyspark is missing (`make test`
installs pyspark with the `spark` extra; Java 17 or 21 comes from the system). One Spark refresh
per session: it takes minutes.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from tests.conftest import icw_environment, land


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if shutil.which("java") is None:
        return "no java on PATH (Spark needs Java 17 or 21)"
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec(
            "dbt.adapters.spark") is None:
        return "pyspark or dbt-spark is not installed (pip install -e '.[spark]')"
    return None


def pytest_collection_modifyitems(config, items):
    reason = spark_missing()
    if reason:
        for item in items:
            if "spark" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=f"Spark tests skipped: {reason}"))


@pytest.fixture(scope="session")
def spark_home(tmp_path_factory: pytest.TempPathFactory, small_extracts: Path) -> Path:
    """An ICW_HOME after one `refresh` (no report) of the small delivery with dbt on Spark."""
    from orchestration.automation.refresh import run_refresh

    home = tmp_path_factory.mktemp("icw spark home")
    with icw_environment(home, ICW_DBT_TARGET="spark") as settings:
        land(small_extracts, settings.landing_dir)
        run_refresh(settings, with_report=False, log=lambda _: None)
    return home
