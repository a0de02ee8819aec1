"""The dbt unit tests (the models' rules on fixed inputs) pass.

A refresh leaves them out (`--exclude-resource-type unit_test`): they test the models' SQL, not
the month's data, so they run here, in `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.core.resources import DBT_PROJECT_DIR
from orchestration.transformation.assets import DBT_PROJECT, ensure_manifest

pytestmark = pytest.mark.integration


def test_every_dbt_unit_test_passes(refreshed_home: Path, tmp_path: Path):
    ensure_manifest()
    expected = len(json.loads(Path(DBT_PROJECT.manifest_path).read_text())["unit_tests"])
    # dbt reads the input relations' column types from a built warehouse; it writes nothing.
    env = {**os.environ, "ICW_WAREHOUSE": str(refreshed_home / "warehouse.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "test", "--select", "test_type:unit",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        env=env, cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    # count the unit tests themselves: dbt's PASS total also counts on-run-start hooks
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    passed = [r["unique_id"] for r in results
              if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"]
    assert len(passed) == expected >= 20, done.stdout[-2000:]
