"""The GX suites are the contract's rules, one expectation per rule, and cannot drift.

Pure and fast: these tests derive and read the suites and run their SQL on DuckDB directly; GX
itself runs in tests/integration/test_batch_validation.py.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.core.warehouse import ensure_schema
from orchestration.ingestion import contract as c
from orchestration.ingestion import expectation_results
from orchestration.ingestion import expectations as ex

pytestmark = pytest.mark.unit

CODES = c.load_reference_codes()


@pytest.mark.parametrize("name", c.EXTRACTS)
def test_every_rule_of_the_contract_has_exactly_one_expectation(name):
    extract = c.EXTRACTS[name]
    rules = c.rules_for(extract, CODES)
    suite = ex.suite_dict(extract, CODES)
    by_name = {e["meta"]["name"]: e for e in suite["expectations"]}
    assert list(by_name) == [r.expectation for r in rules] + [ex.DUPLICATE_KEY_EXPECTATION]
    for rule in rules:
        expectation = by_name[rule.expectation]
        assert expectation["meta"] == {
            "name": rule.expectation, "reason_code": rule.reason_code, "column": rule.column,
        }
        assert expectation["description"] == rule.message
        query = expectation["kwargs"]["unexpected_rows_query"]
        expected = f"select __file, __line from b where {ex.batch_sql(rule.fault_sql)}"
        assert query.format(batch="b") == expected
    duplicate = by_name[ex.DUPLICATE_KEY_EXPECTATION]
    assert duplicate["meta"]["reason_code"] == c.DUPLICATE_KEY
    reasons = {e["meta"]["reason_code"] for e in suite["expectations"]}
    assert reasons == set(c.REASON_ORDER) - {c.WRONG_FIELD_COUNT}  # those lines never parse


def test_the_committed_suites_are_what_the_contract_derives():
    stale = ex.stale_suites()
    assert not stale, f"expectations/{stale}.json out of date: run `{ex.REGENERATE}`"
    for name, suite in ex.load_suite_dicts().items():
        assert suite == json.loads(ex.suite_json(ex.suite_dict(c.EXTRACTS[name], CODES)))


def test_a_changed_contract_shows_as_a_stale_suite(tmp_path):
    ex.write_suites(tmp_path)
    assert ex.stale_suites(tmp_path) == []
    suite = json.loads((tmp_path / "caseload.json").read_text())
    suite["expectations"].pop()
    (tmp_path / "caseload.json").write_text(ex.suite_json(suite))
    assert ex.stale_suites(tmp_path) == ["caseload"]
    assert ex.main(["--check", "--folder", str(tmp_path)]) == 1


def test_batch_sql_renames_references_but_not_string_literals():
    sql = "v.crn is null and t.snapshot_date <> t.__as_at and v.gender not in ('v.x', 'it.y')"
    assert ex.batch_sql(sql) == (
        "v_crn is null and t_snapshot_date <> __as_at and v_gender not in ('v.x', 'it.y')"
    )


def _batch(con: duckdb.DuckDBPyConnection, extract: c.Extract, rows: list[dict]) -> None:
    """A batch table as the validation view gives it: __file, __line, v_<col>, t_<col>, __as_at.

    Rows without a ``__file`` are file 1's.
    """
    rows = [{"__file": 1} | row for row in rows]
    cols = ["__file integer", "__line integer", "__as_at date"]
    for col in extract.columns:
        cols += [f"v_{col.name} varchar", f"t_{col.name} {col.sql_type}"]
    con.execute(f"create or replace table b ({', '.join(cols)})")
    for row in rows:
        names = ", ".join(row)
        con.execute(f"insert into b ({names}) values ({', '.join('?' * len(row))})",
                    list(row.values()))


def _count(con, suite: dict, name: str) -> int:
    query = next(e for e in suite["expectations"] if e["meta"]["name"] == name)
    sql = query["kwargs"]["unexpected_rows_query"].format(batch="b")
    return con.execute(f"select count(*) from ({sql}) s").fetchone()[0]


@pytest.mark.parametrize("name", c.EXTRACTS)
def test_every_query_of_every_suite_runs_on_duckdb(name):
    con = duckdb.connect()
    _batch(con, c.EXTRACTS[name], [])
    suite = ex.load_suite_dicts()[name]
    for e in suite["expectations"]:
        assert _count(con, suite, e["meta"]["name"]) == 0


def test_key_unique_counts_repeats_among_rows_without_another_fault():
    good = {"v_snapshot_date": "2024-01-31", "t_snapshot_date": "2024-01-31",
            "v_ldu_code": "WM01", "v_sentence_type": "LICENCE", "v_reoffending_band": "LOW",
            "v_rosh_level": "LOW", "v_offence_category": "DRUGS", "v_gender": "MALE",
            "v_ethnicity_group": "WHITE", "v_date_of_birth": "1980-01-01",
            "t_date_of_birth": "1980-01-01", "__as_at": "2024-01-31"}
    rows = [
        {"__line": 2, "v_crn": "A000001", **good},
        {"__line": 3, "v_crn": "A000001", **good, "v_gender": "X"},  # faulty: not a duplicate
        {"__line": 4, "v_crn": "A000001", **good},  # the duplicate
        {"__line": 5, "v_crn": "A000002", **good, "v_gender": None},
        {"__line": 6, "v_crn": "A000002", **good},  # first valid row of its key: loads
        {"__line": 7, "v_crn": None, **good},  # no key: missing values, never duplicates
        {"__line": 8, "v_crn": None, **good},
        {"__file": 2, "__line": 2, "v_crn": "A000001", **good},  # another file's: not a repeat
    ]
    con = duckdb.connect()
    _batch(con, c.CASELOAD, rows)
    suite = ex.suite_dict(c.CASELOAD, CODES)
    assert _count(con, suite, ex.DUPLICATE_KEY_EXPECTATION) == 1
    assert _count(con, suite, "gender_in_set") == 1
    assert _count(con, suite, "gender_not_null") == 1
    assert _count(con, suite, "crn_not_null") == 2


def test_the_asset_check_summary_reads_the_files_of_the_run():
    con = duckdb.connect()
    ensure_schema(con)
    loads = [  # load_id, file, status, loaded_at
        (1, "caseload_2024-01-31.csv", "LOADED", "2024-02-01 08:00:00"),
        (2, "caseload_2024-02-29.csv", "LOADED", "2024-03-01 08:00:00"),
        (3, "caseload_2024-02-29.csv", "LOADED", "2024-03-02 08:00:00"),  # a restatement
        (4, "caseload_2024-03-31.csv", "REJECTED", "2024-03-02 08:00:01"),
    ]
    for load_id, name, status, at in loads:
        con.execute(
            "insert into audit.loads (load_id, file_name, extract, sha256, status, loaded_at) "
            "values (?, ?, 'caseload', 'x', ?, ?)", [load_id, name, status, at])
    results = [(1, "crn_of_form", c.INVALID_FORMAT, 5), (1, "gender_in_set", c.UNKNOWN_CODE, 0),
               (2, "crn_of_form", c.INVALID_FORMAT, 7), (3, "crn_of_form", c.INVALID_FORMAT, 2),
               (3, "gender_in_set", c.UNKNOWN_CODE, 1)]
    for load_id, name, reason, n in results:
        con.execute(
            "insert into audit.expectation_results values (?, 'f', 'caseload', ?, ?, 'c', ?, ?)",
            [load_id, name, reason, n, n == 0])
    for load_id, reason in [(3, c.INVALID_FORMAT), (3, c.INVALID_FORMAT), (3, c.UNKNOWN_CODE),
                            (3, c.WRONG_FIELD_COUNT), (1, c.INVALID_FORMAT)]:
        con.execute("insert into audit.quarantined_rows (load_id, file_name, extract, "
                    "line_number, reason_code, message) values (?, 'f', 'caseload', 2, ?, 'm')",
                    [load_id, reason])
    since = con.execute(
        "select epoch(timestamp '2024-03-02 00:00:00'::timestamptz)").fetchone()[0]
    run = expectation_results.summarise_results(con, "caseload", since)
    assert run.files == ("caseload_2024-02-29.csv",)
    assert run.unexpected == {"crn_of_form": 2, "gender_in_set": 1}
    assert run.failed == ("gender_in_set", "crn_of_form") and not run.passed  # suite order
    assert run.suite_by_reason == {c.INVALID_FORMAT: 2, c.UNKNOWN_CODE: 1}
    assert run.quarantine_by_reason == {c.INVALID_FORMAT: 2, c.UNKNOWN_CODE: 1,
                                        c.WRONG_FIELD_COUNT: 1}
    table = run.comparison_markdown()
    assert "| INVALID_FORMAT | 2 | 2 |" in table
    assert "| WRONG_FIELD_COUNT | not in the suite | 1 |" in table
    latest = expectation_results.summarise_results(con, "caseload")  # every file's latest load
    assert latest.files == ("caseload_2024-01-31.csv", "caseload_2024-02-29.csv")
    assert latest.unexpected == {"crn_of_form": 7, "gender_in_set": 1}
    nothing = expectation_results.summarise_results(con, "caseload", since + 86400 * 30)
    assert nothing.files == () and nothing.passed
