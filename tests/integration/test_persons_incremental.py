"""An incremental build after late, restated and new caseload snapshots equals a full rebuild.

`int_eligible_persons_quarterly` is incremental by quarter (docs/benchmarks.md, Issue 12): a
build deletes and inserts only the quarters of the caseload files loaded (audit.loads) since the
table's watermark. This builds the small delivery's warehouse with its last month held back, an
earlier month missing and another month as first delivered; then lands the last month, the
missing month (late), a restatement of the other (a snapshot replaced whole with a new load_id,
as the loader does: bands changed, persons gone) and a restatement of a fourth whose every row
was quarantined (the snapshot emptied); builds incrementally; full-refreshes a copy; and
compares every table the incremental model feeds, both ways with EXCEPT ALL.
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

#: The incremental model, and the column that differs by design between the two builds.
INCREMENTAL_MODEL = "int_eligible_persons_quarterly"
WATERMARK_COLUMN = "built_from_load_id"


def dbt_build(project_dir: Path, warehouse: Path, home: Path, work: Path,
              *extra: str) -> subprocess.CompletedProcess[str]:
    """`dbt build` of every model and data test (no unit tests) on the warehouse."""
    env = {**os.environ, "ICW_HOME": str(home), "ICW_WAREHOUSE": str(warehouse),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--exclude-resource-type", "unit_test",
         *extra, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        env=env, cwd=project_dir, capture_output=True, text=True,
    )


def hold_back(warehouse: Path) -> dict[str, object]:
    """Take the last, a late and a to-be-restated snapshot out of raw.caseload; return them."""
    with duckdb.connect(str(warehouse)) as con:
        dates = [row[0] for row in con.execute(
            "select distinct snapshot_date from raw.caseload order by 1").fetchall()]
        held = {"last": dates[-1], "late": dates[3], "restated": dates[7], "emptied": dates[10]}
        con.execute("create table main.held_back as select * from raw.caseload "
                    "where snapshot_date in (?, ?)", [held["last"], held["late"]])
        con.execute("delete from raw.caseload where snapshot_date in (?, ?)",
                    [held["last"], held["late"]])
        return held


def record_load(con: duckdb.DuckDBPyConnection, load_id: int, snapshot: object,
                rows_loaded: int) -> None:
    """The audit.loads row the loader writes for a LOADED caseload file of that snapshot."""
    con.execute(
        "insert into audit.loads (load_id, file_name, extract, as_at_date, sha256, status, "
        "rows_read, rows_loaded, rows_quarantined, loaded_at) values "
        "(?, 'caseload_' || strftime(?::date, '%Y-%m-%d') || '.csv', 'caseload', ?, "
        "md5(?::varchar), 'LOADED', ?, ?, 0, now())",
        [load_id, snapshot, snapshot, load_id, rows_loaded, rows_loaded],
    )


def land(warehouse: Path, held: dict[str, object]) -> None:
    """Land the held-back snapshots and restate two, each with a new load_id and its audit row."""
    with duckdb.connect(str(warehouse)) as con:
        top = con.execute("select max(load_id) from audit.loads").fetchone()[0]
        for offset, name in enumerate(("last", "late", "restated", "emptied"), 1):
            record_load(con, top + offset, held[name], 1)
        con.execute("insert into raw.caseload by name select * replace (? as load_id) "
                    "from main.held_back where snapshot_date = ?", [top + 1, held["last"]])
        con.execute("insert into raw.caseload by name select * replace (? as load_id) "
                    "from main.held_back where snapshot_date = ?", [top + 2, held["late"]])
        # the restated snapshot replaces the first delivery whole: a tenth of its persons gone,
        # a fifth moved to another band and another LDU
        con.execute(
            """
            create table main.restated as
            select caseload.* replace (
                ? as load_id,
                case when hash(person_id) % 5 = 0 then
                    case reoffending_band when 'LOW' then 'HIGH' else 'LOW' end
                    else reoffending_band end as reoffending_band,
                case when hash(person_id) % 5 = 1 then
                    (select min(ldu_code) from raw.caseload) else ldu_code end as ldu_code
            )
            from raw.caseload
            where snapshot_date = ? and hash(person_id) % 10 <> 9
            """,
            [top + 3, held["restated"]],
        )
        con.execute("delete from raw.caseload where snapshot_date = ?", [held["restated"]])
        con.execute("insert into raw.caseload by name select * from main.restated")
        con.execute("drop table main.restated")
        con.execute("drop table main.held_back")
        # a restatement whose every row was quarantined: the snapshot is replaced by nothing
        con.execute("delete from raw.caseload where snapshot_date = ?", [held["emptied"]])


def fed_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every table of the model's schemas: the model and all it feeds are among them."""
    return con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'inc' and table_type = 'BASE TABLE' "
        "and table_schema in ('intermediate', 'marts_build', 'reporting_build') order by 1, 2"
    ).fetchall()


def differences(incremental: Path, full: Path) -> dict[str, tuple[int, int]]:
    """Rows in one and not the other (EXCEPT ALL), both ways, for every table that differs."""
    con = duckdb.connect()
    con.execute(f"attach '{incremental}' as inc (read_only)")
    con.execute(f"attach '{full}' as full_build (read_only)")
    found = {}
    for schema, table in fed_tables(con):
        columns = ", ".join(
            f'"{name}"' for (name,) in con.execute(
                "select column_name from information_schema.columns where table_catalog = 'inc' "
                "and table_schema = ? and table_name = ? and column_name <> ? "
                "order by ordinal_position", [schema, table, WATERMARK_COLUMN]).fetchall()
        )
        a = f"select {columns} from inc.{schema}.{table}"
        b = f"select {columns} from full_build.{schema}.{table}"
        ab = con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
        ba = con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0]
        if ab or ba:
            found[f"{schema}.{table}"] = (ab, ba)
    con.close()
    return found


def test_an_incremental_build_after_late_and_restated_rows_equals_a_full_rebuild(
    refreshed_home: Path, tmp_path: Path
):
    incremental_equals_full(refreshed_home, tmp_path, DBT_PROJECT_DIR)


def incremental_equals_full(refreshed_home: Path, tmp_path: Path, project_dir: Path) -> None:
    """Build held back, land, build incrementally, full-refresh a copy, compare (the test)."""
    home = tmp_path / "home"
    home.mkdir()
    incremental = home / "warehouse.duckdb"
    shutil.copy2(refreshed_home / "warehouse.duckdb", incremental)
    held = hold_back(incremental)
    first = dbt_build(project_dir, incremental, home, tmp_path / "first", "--full-refresh")
    assert first.returncode == 0, first.stdout[-4000:]

    land(incremental, held)
    again = dbt_build(project_dir, incremental, home, tmp_path / "incremental")
    assert again.returncode == 0, again.stdout[-4000:]
    full = tmp_path / "full.duckdb"
    shutil.copy2(incremental, full)
    rebuilt = dbt_build(project_dir, full, home, tmp_path / "full", "--full-refresh")
    assert rebuilt.returncode == 0, rebuilt.stdout[-4000:]

    assert differences(incremental, full) == {}
    with duckdb.connect(str(incremental), read_only=True) as con:
        built = dict(con.execute(
            f"select {WATERMARK_COLUMN}, count(distinct financial_quarter) "
            f"from intermediate.{INCREMENTAL_MODEL} group by all").fetchall())
        quarters = con.execute(
            "select count(*) from intermediate.int_periods_generated "
            "where period_type = 'QUARTER'").fetchone()[0]
    # the incremental build rebuilt some quarters and kept the others: here the three quarters
    # of the landed snapshots (the last, the late and the restated) came from the new build
    assert len(built) == 2, built
    assert sum(built.values()) == quarters
    assert 0 < built[max(built)] < quarters, built
