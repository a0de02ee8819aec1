"""A null where a published column's contract says not null stops the build.

The published models' not_null rules are contract constraints, not data tests
(docs/benchmarks.md, Issue 12: events and start-up): DuckDB refuses the insert, so the model
fails and everything built from it is skipped. Here an analyst's seed edit leaves an LDU without
a name, as a blank cell in seeds/ldus.csv would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.core.resources import DBT_PROJECT_DIR

pytestmark = pytest.mark.integration


def test_a_null_in_a_not_null_published_column_fails_its_model_and_skips_its_children(
    refreshed_home: Path, tmp_path: Path
):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(DBT_PROJECT_DIR.parent / "seeds", tmp_path / "seeds")
    ldus = tmp_path / "seeds" / "ldus.csv"
    lines = ldus.read_text().splitlines()
    code, _name, *rest = lines[1].split(",")
    lines[1] = ",".join([code, "", *rest])  # the first LDU's name left blank
    ldus.write_text("\n".join(lines) + "\n")
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy2(refreshed_home / "warehouse.duckdb", warehouse)

    built = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--select", "ldus+",
         "--exclude-resource-type", "unit_test", "--project-dir", str(project),
         "--profiles-dir", str(project), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        env={**os.environ, "ICW_WAREHOUSE": str(warehouse), "ICW_HOME": str(tmp_path),
             "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"},
        cwd=project, capture_output=True, text=True,
    )

    assert built.returncode != 0
    assert "NOT NULL constraint failed" in built.stdout, built.stdout[-3000:]
    lines = built.stdout.splitlines()
    assert any("ERROR creating sql table model marts_build.ldus" in line for line in lines)
    skipped = [line for line in lines if " SKIP relation " in line]
    assert any("reporting_build.ldu_year_to_date" in line for line in skipped), skipped
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the last good build stays
        nulls = con.execute("select count(*) from marts_build.ldus where ldu_name is null")
        assert nulls.fetchone()[0] == 0
