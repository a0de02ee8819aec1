"""A copy of the warehouse under another file name still builds and its views still read.

DuckDB names a database's catalog after its file, and a view keeps the names its query was
written with. When dbt wrote `"warehouse"."staging"."stg_caseload"` into the views, an analyst who
copied the warehouse to icw-2026-11.duckdb and ran `dbt build -s int_periods_generated+1` on the
copy got `Binder Error: Catalog "warehouse" does not exist!`. The project's ref() and source()
now leave the database out (dbt_project/macros/relations_without_database.sql), so a view's names
bind in whatever catalog holds it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.integration

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
#: The analyst's file name: anything but warehouse.duckdb.
COPY_NAME = "icw-2026-11.duckdb"


def analyst_build(warehouse: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """The analyst's command, `dbt build -s int_periods_generated+1`, on the given file."""
    home = work / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "ICW_HOME": str(home), "ICW_WAREHOUSE": str(warehouse),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--select", "int_periods_generated+1",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        env=env, cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
    )


def test_a_renamed_copy_builds_and_its_views_read(refreshed_home: Path, tmp_path: Path):
    copy = tmp_path / COPY_NAME
    shutil.copy2(refreshed_home / "warehouse.duckdb", copy)

    done = analyst_build(copy, tmp_path)

    assert done.returncode == 0, done.stdout[-4000:]
    assert "Catalog" not in done.stdout, done.stdout[-4000:]
    with duckdb.connect(str(copy), read_only=True) as con:
        views = con.execute(
            "select schema_name || '.' || view_name, sql from duckdb_views() where not internal"
        ).fetchall()
        # the staging views read the raw extracts; the eligibility view reads a staging view
        assert {"staging.stg_caseload", "intermediate.int_caseload_eligibility_joined"} <= {
            name for name, _ in views
        }
        # no view names the catalog of the file it was built in
        assert [name for name, sql in views if "warehouse." in sql.lower().replace('"', "")] == []
        snapshots = con.execute("select count(*) from staging.stg_caseload").fetchone()[0]
        eligible = con.execute(
            "select count(*) from intermediate.int_caseload_eligibility_joined"
        ).fetchone()[0]
    assert snapshots > 0 and eligible > 0
    # and attached under yet another name, as a notebook or a report would
    with duckdb.connect() as con:
        con.execute(f"attach '{copy}' as analyst_copy (read_only)")
        assert con.execute(
            "select count(*) from analyst_copy.intermediate.int_caseload_eligibility_joined"
        ).fetchone()[0] == eligible
