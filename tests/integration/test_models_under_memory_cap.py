"""The heaviest dbt models build, as a refresh builds them, under a small DuckDB memory cap.

National refreshes failed with DuckDB's Out of Memory Error under the 1 GB cap when
`int_flags_persons_stratified` (an arg_max per person) and `int_person_groups_selected` (a
row_number per person) ran at once. Now they take a grouped max of the snapshot date and join
back on the caseload's key, the usage marts count distinct persons as a distinct then a count,
and dbt builds one model at a time (profiles.yml), so each query has the whole cap to spill in
(docs/benchmarks.md, Never failing on memory). This builds those models and the other mart that
groups persons over the whole caseload, with their data tests, under a cap far below what the
caseload takes in memory: the small delivery's warehouse with its caseload grown to 40 times the
persons. The previous SQL, on two threads, failed here: four of the five models ran out of memory.
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

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The models that group persons over the whole caseload.
HEAVY_MODELS = (
    "int_flags_persons_stratified",
    "int_person_groups_selected",
    "ldu_intervention_measures",
    "division_intervention_measures",
    "division_diversity_measures",
)
#: Copies of each person in the grown caseload, and the cap they must build under.
COPIES = 40
MEMORY_CAP = "112MB"


def grow_caseload(warehouse: Path, copies: int) -> int:
    """Add copies - 1 new persons for each caseload person, as themselves; return the rows."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            """
            insert into raw.caseload
            select caseload.* replace (caseload.person_id || '-' || copies.copy_number as person_id)
            from raw.caseload
            cross join range(1, ?) as copies (copy_number)
            """,
            [copies],
        )
        return con.execute("select count(*) from raw.caseload").fetchone()[0]


def person_counts(warehouse: Path) -> tuple[int, int]:
    """Persons in the YEAR strata of the flags, and year-person rows of the diversity groups."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            """
            select
                (select sum(eligible_persons) from intermediate.int_flags_persons_stratified
                 where period_type = 'YEAR'),
                (select count(*) from intermediate.int_person_groups_selected)
            """
        ).fetchone()


def build_under_cap(home: Path, project_dir: Path, models: tuple[str, ...], cap: str,
                    work: Path) -> subprocess.CompletedProcess[str]:
    """`dbt build` of the models and the data tests on them alone, with the profile's threads."""
    env = {**os.environ, "ICW_HOME": str(home), "ICW_WAREHOUSE": str(home / "warehouse.duckdb"),
           "ICW_DUCKDB_MEMORY_LIMIT": cap, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build",
         "--exclude-resource-type", "unit_test", "--select", *models,
         "--indirect-selection", "cautious",
         "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        env=env, cwd=project_dir, capture_output=True, text=True,
    )


def test_the_heaviest_models_build_under_a_small_memory_cap(
    refreshed_home: Path, tmp_path: Path
):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(refreshed_home / "warehouse.duckdb", home / "warehouse.duckdb")
    rows = grow_caseload(home / "warehouse.duckdb", COPIES)
    assert rows >= 500_000, rows  # well past what the old models held under the cap

    done = build_under_cap(home, DBT_PROJECT_DIR, HEAVY_MODELS, MEMORY_CAP, tmp_path)

    assert "Out of Memory" not in done.stdout, done.stdout[-4000:]
    assert done.returncode == 0, done.stdout[-4000:]
    # every grown person is counted: the copies multiply the small delivery's figures exactly
    assert person_counts(home / "warehouse.duckdb") == tuple(
        COPIES * n for n in person_counts(refreshed_home / "warehouse.duckdb")
    )
