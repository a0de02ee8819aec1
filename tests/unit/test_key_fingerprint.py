"""The warehouse remembers its pseudonymisation key as a fingerprint and refuses another key."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import duckdb
import pytest

from orchestration.core.settings import DEMO_PSEUDONYMISATION_KEY, LandingMissing, Settings
from orchestration.core.warehouse import ensure_schema
from orchestration.ingestion.key_fingerprint import (
    FINGERPRINT_LABEL,
    FIRST_LOAD,
    VERIFIED_EXISTING,
    KeyMismatch,
    check_key,
    fingerprint,
    record_fingerprint,
    recorded_fingerprint,
)
from orchestration.ingestion.pseudonymise import person_id

pytestmark = pytest.mark.unit

KEY_A, KEY_B = "key-A-from-the-secret-store", "key-B-rotated"


def settings_for(home: Path, key: str | None) -> Settings:
    env = {"ICW_HOME": str(home)}
    if key is not None:
        env["ICW_PSEUDONYMISATION_KEY"] = key
    return Settings.from_env(env)


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    ensure_schema(connection)
    yield connection
    connection.close()


def events(con) -> list[tuple[str, str]]:
    return con.execute(
        "select fingerprint, event from audit.pseudonymisation_key order by entry_id").fetchall()


def test_the_fingerprint_is_an_hmac_of_a_fixed_label_under_the_key():
    expected = hmac.new(KEY_A.encode(), FINGERPRINT_LABEL.encode(), hashlib.sha256).hexdigest()
    assert fingerprint(KEY_A) == expected
    assert fingerprint(KEY_A) != fingerprint(KEY_B)
    assert KEY_A not in fingerprint(KEY_A)


def test_the_fingerprint_is_never_a_person_id():
    # the label is not a CRN, so no person's pseudonym can equal the key's fingerprint
    assert person_id(FINGERPRINT_LABEL, KEY_A) != fingerprint(KEY_A)  # upper-cased: another text


def test_an_empty_warehouse_takes_the_key_of_its_first_load(con, tmp_path):
    settings = settings_for(tmp_path, KEY_A)
    assert check_key(con, settings, has_deliveries=False) is None
    assert recorded_fingerprint(con) is None  # a run with nothing to load records nothing
    assert check_key(con, settings, has_deliveries=True)
    assert events(con) == [(fingerprint(KEY_A), FIRST_LOAD)]
    assert check_key(con, settings) is None  # the same key again: nothing new
    assert len(events(con)) == 1


@pytest.mark.parametrize("key", [KEY_B, None])
def test_another_key_or_none_is_refused_without_naming_either(con, tmp_path, key):
    record_fingerprint(con, KEY_A, FIRST_LOAD)
    with pytest.raises(KeyMismatch) as refused:
        check_key(con, settings_for(tmp_path, key))
    message = str(refused.value)
    assert "\n" not in message and "nothing was read" in message
    for secret in (KEY_A, KEY_B, DEMO_PSEUDONYMISATION_KEY):
        assert secret not in message
    if key is None:
        assert message.startswith("ICW_PSEUDONYMISATION_KEY is not set")
    assert len(events(con)) == 1  # nothing recorded


def test_a_demo_warehouse_names_the_demo_key_when_a_real_key_arrives(con, tmp_path):
    record_fingerprint(con, DEMO_PSEUDONYMISATION_KEY, FIRST_LOAD)
    with pytest.raises(KeyMismatch, match="built with the public demo key"):
        check_key(con, settings_for(tmp_path, KEY_A))
    check_key(con, settings_for(tmp_path, None))  # the demo goes on with the demo key


def test_a_read_only_check_writes_nothing(con, tmp_path):
    check_key(con, settings_for(tmp_path, KEY_A), record=False)
    assert recorded_fingerprint(con) is None


CASELOAD = (
    "snapshot_date,crn,ldu_code,sentence_type,reoffending_band,rosh_level,offence_category,"
    "gender,ethnicity_group,date_of_birth\n"
    "2024-05-31,A000001,WM01,COMMUNITY,LOW,LOW,VIOLENCE,MALE,WHITE,1990-01-01\n"
    "2024-05-31, a000002 ,WM01,COMMUNITY,LOW,LOW,VIOLENCE,MALE,WHITE,1990-01-01\n"
)


def built_before_fingerprints(con, settings: Settings, key: str, archived: bool = True) -> None:
    """A warehouse loaded under `key` by a version of ICW that recorded no fingerprint."""
    path = settings.archive_dir / "2024-05-31" / "caseload_2024-05-31.csv"
    path.parent.mkdir(parents=True)
    path.write_text(CASELOAD)
    con.execute(
        "insert into audit.loads (load_id, file_name, extract, as_at_date, sha256, status, "
        "rows_read, rows_loaded, rows_quarantined, loaded_at, stored_as) values (1, "
        "'caseload_2024-05-31.csv', 'caseload', date '2024-05-31', ?, 'LOADED', 2, 2, 0, "
        "now(), ?)",
        [hashlib.sha256(path.read_bytes()).hexdigest(), str(path)],
    )
    for line, crn in ((2, "A000001"), (3, "A000002")):
        con.execute(
            "insert into raw.caseload (load_id, file_name, as_at_date, line_number, "
            "snapshot_date, person_id) values (1, 'caseload_2024-05-31.csv', "
            "date '2024-05-31', ?, date '2024-05-31', ?)",
            [line, person_id(crn, key)],
        )
    if not archived:
        path.unlink()


def test_a_warehouse_built_before_fingerprints_is_checked_against_its_archive(con, tmp_path):
    built_before_fingerprints(con, settings_for(tmp_path, KEY_A), KEY_A)
    with pytest.raises(KeyMismatch, match="does not give the person_ids"):
        check_key(con, settings_for(tmp_path, KEY_B))
    assert recorded_fingerprint(con) is None
    assert check_key(con, settings_for(tmp_path, KEY_A))
    assert events(con) == [(fingerprint(KEY_A), VERIFIED_EXISTING)]


def test_a_warehouse_built_before_fingerprints_without_its_archive_is_refused(con, tmp_path):
    built_before_fingerprints(con, settings_for(tmp_path, KEY_A), KEY_A, archived=False)
    with pytest.raises(KeyMismatch, match="--record-only"):
        check_key(con, settings_for(tmp_path, KEY_A))


def test_only_the_default_landing_folder_is_created(tmp_path):
    default = Settings.from_env({"ICW_HOME": str(tmp_path / "home")})
    default.ensure_dirs()
    assert default.landing_dir.is_dir()
    same = Settings.from_env({"ICW_HOME": str(tmp_path / "h2"),
                              "ICW_LANDING_DIR": str(tmp_path / "h2" / "landing")})
    same.ensure_dirs()  # named, but it is the default one
    assert same.landing_dir.is_dir()
    named = Settings.from_env({"ICW_HOME": str(tmp_path / "home"),
                               "ICW_LANDING_DIR": str(tmp_path / "mistyped")})
    with pytest.raises(LandingMissing, match="mistyped does not exist"):
        named.ensure_dirs()
    assert not (tmp_path / "mistyped").exists()
    (tmp_path / "a file").write_text("")
    with pytest.raises(LandingMissing, match="is not a folder"):
        Settings.from_env({"ICW_HOME": str(tmp_path / "home"),
                           "ICW_LANDING_DIR": str(tmp_path / "a file")}).ensure_dirs()


def test_compare_published_sees_a_changed_row_either_way():
    from orchestration.ingestion.key_rotation import compare_published

    con = duckdb.connect(":memory:")
    con.execute("attach ':memory:' as other")
    for catalog in ("memory", "other"):
        con.execute(f"create schema {catalog}.marts")
        con.execute(f"create table {catalog}.marts.m as select * from range(5) t(n)")
    assert compare_published(con, "other") == (1, [])
    con.execute("update other.marts.m set n = 10 where n = 4")
    assert compare_published(con, "other") == (1, ["marts.m"])
    con.execute("update other.marts.m set n = 4 where n = 10")
    con.execute("insert into marts.m values (0)")  # a repeated row counts too
    assert compare_published(con, "other") == (1, ["marts.m"])
    con.execute("create table other.marts.extra as select 1 as n")
    assert compare_published(con, "other")[1] == ["marts.extra", "marts.m"]
