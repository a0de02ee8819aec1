"""Each load validates its raw batch with GX: the suite's counts are the quarantine's counts.

Real CSV files with known faults are loaded by the real loader into a temporary warehouse; Great
Expectations (its SQL engine on DuckDB) counts the rows breaking each rule before quarantine.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import duckdb
import pytest

from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect
from orchestration.ingestion import batch_validation
from orchestration.ingestion import contract as c
from orchestration.ingestion import expectations as ex
from orchestration.ingestion.loader import ingest
from orchestration.ingestion.outcomes import LOADED

pytestmark = pytest.mark.integration

CASELOAD_HEADER = (
    "snapshot_date,crn,ldu_code,sentence_type,reoffending_band,rosh_level,offence_category,"
    "gender,ethnicity_group,date_of_birth"
)
# Each faulty row breaks exactly one rule, named here by its expectation.
CASELOAD_ROWS = [
    ("2024-01-31,A100001,WM01,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,1980-05-17", None),
    ("2024-01-31,a100002,wm02,licence,low,high,drugs,female,asian,1991-02-03", None),
    ("2024-01-31,A100003,WM01,LICENCE,LOW,LOW,DRUGS,,WHITE,1975-07-01", "gender_not_null"),
    ("2024-01-31,A100004,WM01,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,1980-13-45",
     "date_of_birth_of_type"),
    ("2024-01-31,A100005,ZZ99,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,1966-01-09", "ldu_code_in_set"),
    ("2024-01-31,A100006,WM01,PRISON,LOW,LOW,DRUGS,MALE,WHITE,1966-01-10",
     "sentence_type_in_set"),
    ("2024-01-31,1000007,WM01,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,1966-01-11", "crn_of_form"),
    ("2024-01-30,A100008,WM01,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,1966-01-12",
     "snapshot_date_equals_as_at"),
    ("2024-01-31,A100009,WM01,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,2025-01-01",
     "date_of_birth_after_snapshot_date"),
    ("2024-01-31,A100001,WM03,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,1980-05-17", "key_unique"),
    ("2024-01-31,A100010,WM01,LICENCE,LOW,LOW,DRUGS,MALE,WHITE", None),  # wrong field count
]
REFERRALS_HEADER = (
    "referral_id,crn,ldu_code,intervention_code,referral_date,reoffending_band,rosh_level,"
    "offence_category,status,status_reason,start_date,last_updated_at"
)
REFERRALS_ROWS = [
    ("RF00000001,A100001,WM01,TSP,2024-01-10,LOW,MEDIUM,VIOLENCE,ON_PROGRAMME,,2024-01-20,"
     "2024-01-25T10:00:00", None),
    ("RF00000002,A100002,WM01,TSP,2024-01-10,LOW,MEDIUM,VIOLENCE,LOST,,,2024-01-25T10:00:00",
     "status_in_set"),
    ("RF00000003,A100003,WM01,TSP,2024-01-10,LOW,MEDIUM,VIOLENCE,ON_PROGRAMME,,2024-01-05,"
     "2024-01-25T10:00:00", "start_date_before_referral_date"),
    ("RF0003,A100004,WM01,TSP,2024-01-10,LOW,MEDIUM,VIOLENCE,AWAITING_START,,,"
     "2024-01-25T10:00:00", "referral_id_of_form"),
    ("RF00000005,A100005,WM01,TSP,2024-01-10,LOW,MEDIUM,VIOLENCE,AWAITING_START,,,"
     "2024-01-25 10:00", "last_updated_at_of_type"),
    ("RF00000006,A100006,WM01,,2024-01-10,LOW,MEDIUM,VIOLENCE,AWAITING_START,,,"
     "2024-01-25T10:00:00", "intervention_code_not_null"),
    ("RF00000001,A100001,WM01,TSP,2024-01-10,LOW,MEDIUM,VIOLENCE,ON_PROGRAMME,,2024-01-20,"
     "2024-01-26T10:00:00", "key_unique"),
]
COMPLETIONS_HEADER = (
    "referral_id,crn,intervention_code,start_date,end_date,outcome,outcome_reason,"
    "sessions_attended,sessions_required,recorded_at"
)
COMPLETIONS_ROWS = [
    ("RF00000011,A100001,TSP,2024-01-02,2024-01-20,COMPLETED,,19,19,2024-01-21T09:00:00", None),
    ("RF00000012,A100002,TSP,2024-01-02,2024-01-20,COMPLETED,,-1,19,2024-01-21T09:00:00",
     "sessions_attended_of_type"),
    ("RF00000013,A100003,TSP,2024-01-02,2024-01-20,COMPLETED,,0,0,2024-01-21T09:00:00",
     "sessions_required_of_type"),
    ("RF00000014,A100004,TSP,2024-01-22,2024-01-20,COMPLETED,,19,19,2024-01-21T09:00:00",
     "end_date_before_start_date"),
    ("RF00000015,A100005,TSP,2024-01-02,2024-01-20,COMPLETED,,19,19,2024-02-01T00:00:00",
     "recorded_at_after_end_of_as_at"),
    ("RF00000016,A100006,TSP,2024-01-02,2024-01-20,,,19,19,2024-01-21T09:00:00",
     "outcome_not_null"),
]
CLEAN_CASELOAD = [
    "2024-02-29,B200001,WM01,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,1980-05-17",
    "2024-02-29,B200002,EM01,COMMUNITY_ORDER,HIGH,LOW,OTHER,FEMALE,BLACK,1990-11-30",
]
# Two faults on one row: the suite counts both rules, the quarantine only the first reason.
DOUBLE_FAULT_CASELOAD = [
    "2024-03-31,C300001,WM01,LICENCE,LOW,LOW,DRUGS,MALE,WHITE,1980-05-17",
    "2024-03-31,C300002,ZZ99,LICENCE,LOW,LOW,DRUGS,ALIEN,WHITE,1980-05-17",
]


def _write(folder: Path, name: str, header: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\r\n".join([header, *lines]) + "\r\n", encoding="utf-8")


def _personal_values() -> set[str]:
    """Every CRN and date of birth written into the test files."""
    values = set()
    for line in [r for r, _ in CASELOAD_ROWS] + CLEAN_CASELOAD + DOUBLE_FAULT_CASELOAD:
        fields = line.split(",")
        values.add(fields[1].upper())
        if len(fields) > 9:
            values.add(fields[9])
    for line, _ in REFERRALS_ROWS + COMPLETIONS_ROWS:
        values.add(line.split(",")[1].upper())
    return values


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[Settings, Path, list]:
    home = tmp_path_factory.mktemp("icw gx home")  # a space in the path, on purpose
    settings = Settings.from_env({"ICW_HOME": str(home)})
    landing = settings.landing_dir
    _write(landing, "caseload_2024-01-31.csv", CASELOAD_HEADER, [r for r, _ in CASELOAD_ROWS])
    _write(landing, "referrals_2024-01-31.csv", REFERRALS_HEADER, [r for r, _ in REFERRALS_ROWS])
    _write(landing, "completions_2024-01-31.csv", COMPLETIONS_HEADER,
           [r for r, _ in COMPLETIONS_ROWS])
    _write(landing, "caseload_2024-02-29.csv", CASELOAD_HEADER, CLEAN_CASELOAD)
    _write(landing, "caseload_2024-03-31.csv", CASELOAD_HEADER, DOUBLE_FAULT_CASELOAD)
    _write(landing, "referrals_2024-03-31.csv", REFERRALS_HEADER, [])  # header only
    cwd = os.getcwd()
    os.chdir(home)  # GX must leave no gx/ folder behind wherever it runs
    try:
        con = connect(settings.warehouse)
        summary = ingest(con, settings, log=lambda _: None)
        con.close()
    finally:
        os.chdir(cwd)
    return settings, home, summary.outcomes


@pytest.fixture()
def warehouse(loaded):
    con = duckdb.connect(str(loaded[0].warehouse), read_only=True)
    yield con
    con.close()


def _results(con, file_name: str) -> dict[str, tuple[int, bool]]:
    rows = con.execute(
        "select expectation, unexpected_count, success from audit.expectation_results "
        "where file_name = ?", [file_name]).fetchall()
    return {name: (count, ok) for name, count, ok in rows}


def _messages() -> dict[tuple[str, str], str]:
    """(extract, expectation) → the quarantine message of that rule."""
    codes = c.load_reference_codes()
    out = {}
    for name, extract in c.EXTRACTS.items():
        for rule in c.rules_for(extract, codes):
            out[(name, rule.expectation)] = rule.message
    return out


@pytest.mark.parametrize(
    ("file_name", "rows"),
    [("caseload_2024-01-31.csv", CASELOAD_ROWS), ("referrals_2024-01-31.csv", REFERRALS_ROWS),
     ("completions_2024-01-31.csv", COMPLETIONS_ROWS)],
)
def test_the_suite_counts_each_rule_as_the_quarantine_does(warehouse, file_name, rows):
    extract = file_name.split("_")[0]
    results = _results(warehouse, file_name)
    suite = ex.load_suite_dicts()[extract]
    assert list(results) == [e["meta"]["name"] for e in suite["expectations"]]
    planted = [name for _, name in rows if name]
    for name, (count, ok) in results.items():
        assert count == planted.count(name), name
        assert ok is (count == 0), name
    messages = _messages()
    quarantined = warehouse.execute(
        "select reason_code, message from audit.quarantined_rows where file_name = ?",
        [file_name]).fetchall()
    for name, (count, _) in results.items():
        if name == ex.DUPLICATE_KEY_EXPECTATION:
            same = [m for r, m in quarantined if r == c.DUPLICATE_KEY]
        else:
            same = [m for _, m in quarantined if m == messages[(extract, name)]]
        assert len(same) == count, name
    by_reason = dict(warehouse.execute(
        "select reason_code, sum(unexpected_count) from audit.expectation_results "
        "where file_name = ? group by all", [file_name]).fetchall())
    q_by_reason = dict(warehouse.execute(
        "select reason_code, count(*) from audit.quarantined_rows where file_name = ? "
        "and reason_code <> 'WRONG_FIELD_COUNT' group by all", [file_name]).fetchall())
    assert {k: v for k, v in by_reason.items() if v} == q_by_reason


def test_a_clean_file_passes_every_expectation(warehouse):
    # Also the proof that GX's SQL path works on DuckDB at all: without the persistent-connection
    # patch every expectation would report failure.
    results = _results(warehouse, "caseload_2024-02-29.csv")
    assert len(results) == len(ex.load_suite_dicts()["caseload"]["expectations"])
    assert all(ok and count == 0 for count, ok in results.values())
    header_only = _results(warehouse, "referrals_2024-03-31.csv")
    assert header_only and all(ok for _, ok in header_only.values())


def test_a_row_with_two_faults_counts_for_both_rules_but_is_quarantined_once(warehouse):
    results = _results(warehouse, "caseload_2024-03-31.csv")
    assert results["ldu_code_in_set"] == (1, False)
    assert results["gender_in_set"] == (1, False)
    assert warehouse.execute(
        "select reason_code, message from audit.quarantined_rows "
        "where file_name = 'caseload_2024-03-31.csv'").fetchall() == [
        (c.UNKNOWN_CODE, "value in column ldu_code is not a known code")]


def test_every_loaded_file_still_adds_up_and_has_its_results(warehouse, loaded):
    outcomes = loaded[2]
    assert all(o.status == LOADED for o in outcomes)
    rows = warehouse.execute(
        """
        select l.file_name, l.rows_read, l.rows_loaded, l.rows_quarantined,
            (select count(*) from audit.quarantined_rows q where q.load_id = l.load_id),
            (select count(*) from audit.expectation_results e where e.load_id = l.load_id)
        from audit.loads l where l.status = 'LOADED'
        """).fetchall()
    suites = ex.load_suite_dicts()
    assert len(rows) == 6
    for name, read, loaded_rows, quarantined, q_rows, n_results in rows:
        assert read == loaded_rows + quarantined == loaded_rows + q_rows, name
        assert n_results == len(suites[name.split("_")[0]]["expectations"]), name
    assert warehouse.execute(
        "select rows_read, rows_loaded, rows_quarantined from audit.loads "
        "where file_name = 'caseload_2024-01-31.csv'").fetchone() == (11, 2, 9)


def test_no_personal_data_reaches_the_expectation_results(warehouse, loaded):
    values = _personal_values()
    cells = warehouse.execute(
        "select * from audit.expectation_results").fetchall()
    text = "\n".join(str(v) for row in cells for v in row)
    assert cells
    assert not [v for v in values if v in text]
    assert not re.search(r"\b[A-Z][0-9]{6}\b", text)
    assert not re.search(r"\b(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}\b", text)
    home = loaded[1]
    assert not (home / "gx").exists() and not (Path.cwd() / "gx").exists()


def test_a_validation_that_cannot_run_rolls_the_file_back(tmp_path, monkeypatch):
    settings = Settings.from_env({"ICW_HOME": str(tmp_path)})
    _write(settings.landing_dir, "caseload_2024-02-29.csv", CASELOAD_HEADER, CLEAN_CASELOAD)

    def broken(*args, **kwargs):
        raise batch_validation.ValidationError(
            "expectation x of the caseload suite could not be evaluated")

    monkeypatch.setattr(batch_validation, "validate_batch", broken)
    con = connect(settings.warehouse)
    with pytest.raises(batch_validation.ValidationError):
        ingest(con, settings, log=lambda _: None)
    assert con.execute("select count(*) from audit.loads").fetchone()[0] == 0
    assert con.execute("select count(*) from raw.caseload").fetchone()[0] == 0
    assert con.execute("select count(*) from audit.expectation_results").fetchone()[0] == 0
    assert (settings.landing_dir / "caseload_2024-02-29.csv").exists()
    con.close()


def test_validate_batch_reads_the_batch_inside_the_loaders_transaction():
    con = duckdb.connect()
    cols = ", ".join(f"null::varchar as v_{col.name}, null::{col.sql_type} as t_{col.name}"
                     for col in c.COMPLETIONS.columns if col.name != "referral_id")
    con.begin()
    con.execute(f"create temp table __judged as select range::integer as __line, "
                f"'RF' || lpad(range::varchar, 8, '0') as v_referral_id, "
                f"null::varchar as t_referral_id, {cols} from range(5)")
    validation = batch_validation.validate_batch(con, "completions", dt.date(2024, 1, 31))
    counts = validation.counts()
    assert counts["outcome_not_null"] == 5 and counts["referral_id_of_form"] == 0
    assert counts[ex.DUPLICATE_KEY_EXPECTATION] == 0  # every row has another fault
    assert not validation.success
    # The loader's transaction is still open and still its own: GX neither ended nor spoiled it.
    con.execute("create temp table after_validation as select 1")
    con.rollback()
    with pytest.raises(batch_validation.ValidationError, match="could not be evaluated"):
        con.begin()  # a batch of the wrong types: GX's query fails, the loader must hear of it
        con.execute("create temp table __judged as select 1 as __line, " + ", ".join(
            f"null::varchar as v_{n}, null::varchar as t_{n}" for n in c.COMPLETIONS.column_names))
        batch_validation.validate_batch(con, "completions", dt.date(2024, 1, 31))
    con.rollback()
    assert not con.execute(
        "select count(*) from duckdb_tables() where table_name = '__judged'").fetchone()[0]


def test_the_expectation_checks_report_the_run_as_warnings(tmp_path):
    import dagster as dg

    from orchestration.core.resources import build_resources
    from orchestration.ingestion.assets import landed_extracts
    from orchestration.ingestion.checks import expectation_checks
    from tests.conftest import icw_environment

    with icw_environment(tmp_path) as settings:
        _write(settings.landing_dir, "caseload_2024-01-31.csv", CASELOAD_HEADER,
               [r for r, _ in CASELOAD_ROWS])
        _write(settings.landing_dir, "caseload_2024-02-29.csv", CASELOAD_HEADER, CLEAN_CASELOAD)
        result = dg.materialize(
            [landed_extracts, *expectation_checks],
            resources=build_resources(settings),
        )
    assert result.success
    evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == set(c.EXTRACTS)
    caseload = evaluations["caseload"]
    assert not caseload.passed and caseload.severity == dg.AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in caseload.metadata.items()}
    assert meta["files_checked"] == 2
    planted = [name for _, name in CASELOAD_ROWS if name]
    assert meta["unexpected_rows_per_expectation"]["ldu_code_in_set"] == 1
    assert sum(meta["unexpected_rows_per_expectation"].values()) == len(planted)
    assert meta["quarantined_rows_per_reason"] == {
        **meta["suite_rows_per_reason"], c.WRONG_FIELD_COUNT: 1}
    assert set(meta["expectations_failed"]) == set(planted)
    assert evaluations["referrals"].passed  # no referrals file in this run
    assert {k: v.value for k, v in evaluations["referrals"].metadata.items()}[
        "files_checked"] == 0
