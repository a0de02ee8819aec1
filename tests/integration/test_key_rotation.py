"""Changing the pseudonymisation key: refused by refresh, done by `icw rotate-key`.

One story on a copy of the session's refreshed warehouse (built with the run's key, the demo
key unless ICW_PSEUDONYMISATION_KEY is set): a refresh with another key is refused and touches
nothing; rotate-key rebuilds the warehouse with KEY_A from the archive, with the same published
figures and audit history and every person_id new; afterwards only KEY_A may refresh, and a
refresh with it links a new delivery to the people already there.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from orchestration.core.settings import DEMO_PSEUDONYMISATION_KEY
from orchestration.core.warehouse import connect
from orchestration.ingestion.key_fingerprint import ROTATED, fingerprint
from orchestration.ingestion.loader import ingest
from orchestration.ingestion.pseudonymise import person_id
from tests.conftest import icw_environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ICW = str(Path(sys.executable).parent / "icw")
KEY_A, KEY_B = "rotation-test-key-A-5d1e", "rotation-test-key-B-c402"
OLD_KEY = os.environ.get("ICW_PSEUDONYMISATION_KEY") or DEMO_PSEUDONYMISATION_KEY
PUBLISHED = ("marts", "reporting")


def icw(home: Path, *args: str, key: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ICW_", "DAGSTER_HOME"))}
    env["ICW_HOME"] = str(home)
    if key:
        env["ICW_PSEUDONYMISATION_KEY"] = key
    return subprocess.run([ICW, *args], capture_output=True, text=True, timeout=900, env=env)


def files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def a_new_delivery(
    extracts: Path, warehouse: Path, landing: Path, nth: int
) -> tuple[Path, str]:
    """The nth loaded referral of the last month again, in a new file: its person is known."""
    source = sorted(extracts.glob("referrals_*.csv"))[-1]
    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = {line for (line,) in con.execute(
        "select line_number from raw.referrals where file_name = ?", [source.name]).fetchall()}
    con.close()
    with source.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = (r for r in reader if reader.line_num in loaded and len(r) == len(header))
        row = next(itertools.islice(rows, nth, None))
    delivered = landing / source.name  # the same name, other bytes: a second arrival
    with delivered.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header, row])
    return delivered, row[header.index("crn")].strip()


@pytest.fixture(scope="module")
def story(refreshed_home: Path, small_extracts: Path, tmp_path_factory) -> SimpleNamespace:
    home = tmp_path_factory.mktemp("rotation home")
    shutil.copytree(refreshed_home, home, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("dagster", "refresh.lock", "reports"))
    warehouse = home / "warehouse.duckdb"
    s = SimpleNamespace(home=home, warehouse=warehouse)
    # History a rebuild must keep: a second arrival under a name (archived with a suffix) that
    # changes no figure, a rejected file, a duplicate and an unrecognised one, loaded (without
    # dbt) under the old key.
    landing = home / "landing"
    a_new_delivery(small_extracts, warehouse, landing, nth=0)
    (landing / "caseload_2024-02-30.csv").write_text("not a real date\n")
    duplicate = sorted((home / "archive").rglob("completions_*.csv"))[0]
    shutil.copyfile(duplicate, landing / duplicate.name)
    (landing / "notes.txt").write_text("left in the landing folder\n")
    with icw_environment(home) as settings:
        con = connect(warehouse)
        outcomes = ingest(con, settings, log=lambda _: None).outcomes
        con.close()
    assert sorted(o.status for o in outcomes) == ["DUPLICATE", "LOADED", "REJECTED"]
    s.delivered, s.crn = a_new_delivery(small_extracts, warehouse, landing, nth=1)
    s.landing_before = files(home / "landing")
    s.archive_before = files(home / "archive")
    s.warehouse_sha = hashlib.sha256(warehouse.read_bytes()).hexdigest()

    s.refused_b = icw(home, "refresh", "--no-report", key=KEY_B)
    s.landing_after_refusal = files(home / "landing")
    s.warehouse_sha_after_refusal = hashlib.sha256(warehouse.read_bytes()).hexdigest()

    s.rotation = icw(home, "rotate-key", key=KEY_A)
    backups = sorted(home.glob("warehouse.before-rotation-*.duckdb"))
    s.backup = backups[-1] if backups else None
    s.landing_after_rotation = files(home / "landing")
    s.archive_after_rotation = files(home / "archive")
    s.rotated = home / "rotated.duckdb"  # the warehouse as rotate-key left it
    shutil.copyfile(warehouse, s.rotated)

    s.refused_none = icw(home, "refresh", "--no-report", key=None)
    s.refused_b_after = icw(home, "refresh", "--no-report", key=KEY_B)
    s.refresh_a = icw(home, "refresh", "--no-report", key=KEY_A)
    return s


def test_a_refresh_with_another_key_is_refused_and_changes_nothing(story):
    result = story.refused_b
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("icw refresh: ") and "nothing was read" in result.stderr
    for key in (KEY_B, OLD_KEY):
        assert key not in result.stdout + result.stderr
    assert story.landing_after_refusal == story.landing_before
    assert story.warehouse_sha_after_refusal == story.warehouse_sha


def test_rotation_swaps_in_a_rebuild_and_keeps_the_old_file_as_backup(story):
    result = story.rotation
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Key rotation complete" in result.stdout
    assert story.backup is not None and f"Backup: {story.backup}" in result.stdout
    assert hashlib.sha256(story.backup.read_bytes()).hexdigest() == story.warehouse_sha
    for key in (KEY_A, OLD_KEY):
        assert key not in result.stdout + result.stderr
    assert not list(story.home.glob("rotation-*")) and not list(story.home.glob("*.rotating*"))
    assert story.landing_after_rotation == story.landing_before  # the new file still waits
    assert story.archive_after_rotation == story.archive_before


@pytest.fixture(scope="module")
def compared(story):
    con = duckdb.connect(str(story.rotated), read_only=True)
    con.execute(f"attach '{story.backup}' as before (read_only)")
    yield con
    con.close()


def published_tables(con, catalog: str) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_catalog = ? and table_schema in {PUBLISHED}", [catalog]).fetchall()}


def rows_by_metrics(truth: dict) -> dict[str, int]:
    """Rows of the published tables whose size docs/metrics.md fixes, for a generated delivery.

    A row per reported period (each month, quarter and financial year of the window), seed LDU
    and seed intervention, zeros included; consistency flags for YEAR and QUARTER and three
    measures; targets for each financial year and four measures.
    """
    from orchestration.ingestion.contract import load_reference_codes

    codes = load_reference_codes()
    ldus, interventions = len(codes["ldus"]), len(codes["interventions"])
    years, quarters = len(truth["window"]["financial_years"]), len(truth["window"]["quarters"])
    periods = truth["parameters"]["months"] + quarters + years
    return {
        "marts.periods": periods,
        "marts.ldus": ldus,
        "marts.interventions": interventions,
        "marts.ldu_intervention_measures": periods * ldus * interventions,
        "marts.division_intervention_measures": periods * interventions,
        "marts.consistency_flags": (years + quarters) * interventions * 3 * ldus,
        "marts.performance_against_target": years * ldus * interventions * 4,
    }


def test_every_published_table_is_the_same_both_ways(compared, ground_truth):
    expected_rows = rows_by_metrics(ground_truth)
    tables = published_tables(compared, "rotated")
    assert tables == published_tables(compared, "before") and len(tables) >= 9
    for table in sorted(tables):
        for a, b in (("rotated", "before"), ("before", "rotated")):
            extra = compared.execute(
                f"select count(*) from (select * from {a}.{table} except all "
                f"select * from {b}.{table})").fetchone()[0]
            assert extra == 0, f"{table}: {extra} rows in {a} not in {b}"
        rows = compared.execute(f"select count(*) from rotated.{table}").fetchone()[0]
        # whole, not merely the same both ways: the size docs/metrics.md fixes, else not empty
        assert rows == expected_rows.get(table, rows) and rows > 0, table
    assert expected_rows.keys() <= tables


def test_the_audit_history_is_kept_and_the_key_change_recorded(compared):
    for table in ("audit.loads",):  # every arrival, verbatim: ids, times, outcomes, paths
        for a, b in (("rotated", "before"), ("before", "rotated")):
            assert compared.execute(
                f"select count(*) from (select * from {a}.{table} except all "
                f"select * from {b}.{table})").fetchone()[0] == 0
    for table in ("raw.referrals", "raw.completions", "raw.caseload",
                  "audit.quarantined_rows", "audit.expectation_results"):
        # the same rows under the same load ids; only person_id changes
        cols = [c for (c,) in compared.execute(
            "select column_name from information_schema.columns where table_catalog = 'rotated' "
            "and table_schema = ? and table_name = ? and column_name <> 'person_id'",
            table.split(".")).fetchall()]
        select = ", ".join(cols)
        for a, b in (("rotated", "before"), ("before", "rotated")):
            assert compared.execute(
                f"select count(*) from (select {select} from {a}.{table} except all "
                f"select {select} from {b}.{table})").fetchone()[0] == 0, table
    statuses = dict(compared.execute(
        "select status, count(*) from rotated.audit.loads group by all").fetchall())
    assert {"LOADED", "REJECTED", "DUPLICATE", "UNRECOGNISED_FILE"} <= set(statuses)
    assert compared.execute(  # a second arrival under one name, rebuilt from its __2 copy
        "select count(*) from rotated.audit.loads where status = 'LOADED' "
        "and stored_as like '%\\_\\_2.csv' escape '\\'").fetchone()[0] == 1
    history = compared.execute(
        "select fingerprint, event from rotated.audit.pseudonymisation_key order by entry_id"
    ).fetchall()
    assert history[0][0] == fingerprint(OLD_KEY)
    assert history[-1] == (fingerprint(KEY_A), ROTATED)


def test_every_person_id_is_new(compared):
    for table in ("raw.caseload", "raw.referrals", "raw.completions", "audit.quarantined_rows"):
        shared, before, after = compared.execute(
            f"""
            select
                (select count(*) from (
                    select person_id from rotated.{table} where person_id is not null
                    intersect
                    select person_id from before.{table} where person_id is not null)),
                (select count(distinct person_id) from before.{table}),
                (select count(distinct person_id) from rotated.{table})
            """).fetchone()
        assert shared == 0 and before == after, table


def test_after_rotation_only_the_new_key_refreshes(story):
    for refused in (story.refused_none, story.refused_b_after):
        assert refused.returncode == 2 and "nothing was read" in refused.stderr
    result = story.refresh_a
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Files: 1 loaded" in result.stdout
    con = duckdb.connect(str(story.warehouse), read_only=True)
    try:
        new_id, known = con.execute(
            """
            select r.person_id, exists (select 1 from raw.caseload c
                                        where c.person_id = r.person_id)
            from raw.referrals r where r.load_id = (select max(load_id) from audit.loads)
            """).fetchone()
    finally:
        con.close()
    assert new_id == person_id(story.crn, KEY_A)  # made with the new key
    assert known  # and it links to the rebuilt caseload: one person, not two


@pytest.mark.parametrize("key", [KEY_B, None], ids=["another key", "no key"])
def test_a_run_from_the_ui_sensor_or_schedule_fails_its_ingestion_step_the_same_way(
    tmp_path: Path, key: str | None
):
    """Runs Dagster launches do not pass through `icw`: the ingestion step itself refuses."""
    import dagster as dg

    from orchestration.core.resources import build_resources
    from orchestration.core.warehouse import connect
    from orchestration.ingestion.assets import landed_extracts
    from orchestration.ingestion.key_fingerprint import FIRST_LOAD, record_fingerprint

    extra = {"ICW_PSEUDONYMISATION_KEY": key or ""}
    with icw_environment(tmp_path, **extra) as settings:
        con = connect(settings.warehouse)
        record_fingerprint(con, KEY_A, FIRST_LOAD)
        con.close()
        settings.landing_dir.mkdir()
        (settings.landing_dir / "caseload_2024-04-30.csv").write_text("snapshot_date,crn\n")
        before = files(settings.landing_dir)
        result = dg.materialize(
            [landed_extracts],
            resources=build_resources(settings),
            raise_on_error=False,
        )
        assert files(settings.landing_dir) == before
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.event_specific_data.error
    message = error.cause.message.strip()  # what the UI shows as the step's error
    assert message.startswith("orchestration.ingestion.key_fingerprint.KeyMismatch: ")
    assert len(message.splitlines()) == 1
    assert "ICW_PSEUDONYMISATION_KEY " in message and "nothing was read or loaded" in message
    assert KEY_A not in message and (key is None or key not in message)
    assert not (settings.archive_dir).exists() or not any(settings.archive_dir.rglob("*.csv"))
