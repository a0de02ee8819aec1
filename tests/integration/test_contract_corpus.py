"""Real bad (and awkward but valid) files, each with the outcome docs/contract.md documents.

The files live in tests/data/contract/ as `<case>__<delivered name>`; each test delivers one
into an empty landing folder and checks the audit row, the row accounting, the quarantine's
line numbers and reasons, and where the file ended up.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect
from orchestration.ingestion.loader import ingest
from orchestration.ingestion.pseudonymise import person_id

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "contract"


@dataclass
class Case:
    status: str
    rows: tuple[int, int, int] | None = None  # read, loaded, quarantined
    reasons: dict[int, str] = field(default_factory=dict)  # physical line -> reason code
    message: str = ""


CASES = {
    "01_not_utf8": Case("REJECTED", message="not UTF-8 text (first bad byte on line 3)"),
    "02_unterminated_quote": Case("REJECTED", message="not readable as CSV"),
    "03_broken_gzip": Case("REJECTED", message="not readable as gzip"),
    "04_missing_column": Case("REJECTED", message="missing required column(s): recorded_at"),
    "05_name_date_not_real": Case("REJECTED", message="2024-02-30) is not a real date"),
    "06_caseload_not_month_end": Case("REJECTED", message="must be dated at a month end"),
    "07_empty_file": Case("REJECTED", message="empty"),
    "08_column_named_twice": Case("REJECTED", message="named twice in the header: crn"),
    "09_unrecognised": Case("UNRECOGNISED_FILE"),
    "10_unrecognised": Case("UNRECOGNISED_FILE"),
    "11_header_only": Case("LOADED", (0, 0, 0)),
    "12_bom_crlf_reordered_extra": Case(
        "LOADED", (2, 2, 0), message="extra column(s) ignored: comment"
    ),
    "13_gzip_valid": Case("LOADED", (2, 2, 0)),
    "14_blank_lines": Case("LOADED", (3, 2, 1), {7: "INVALID_FORMAT"}),
    "15_lower_case_codes": Case("LOADED", (1, 1, 0)),
    "16_quoted_newline_and_comma": Case("LOADED", (2, 1, 1), {4: "UNKNOWN_CODE"}),
    "17_wrong_field_count": Case(
        "LOADED", (4, 2, 2), {3: "WRONG_FIELD_COUNT", 4: "WRONG_FIELD_COUNT"}
    ),
    "18_missing_value": Case("LOADED", (3, 1, 2), {2: "MISSING_VALUE", 3: "MISSING_VALUE"}),
    "19_invalid_type": Case(
        "LOADED", (7, 1, 6), {line: "INVALID_TYPE" for line in range(2, 8)}
    ),
    "20_unknown_code": Case("LOADED", (4, 1, 3), {2: "UNKNOWN_CODE", 3: "UNKNOWN_CODE",
                                                  4: "UNKNOWN_CODE"}),
    "21_invalid_format": Case("LOADED", (4, 1, 3), {2: "INVALID_FORMAT", 3: "INVALID_FORMAT",
                                                    4: "INVALID_FORMAT"}),
    "22_date_rules": Case("LOADED", (6, 2, 4), {2: "DATE_RULE", 3: "DATE_RULE",
                                                4: "DATE_RULE", 5: "DATE_RULE"}),
    "23_date_rules": Case("LOADED", (3, 1, 2), {2: "DATE_RULE", 3: "DATE_RULE"}),
    "24_date_rules": Case("LOADED", (3, 1, 2), {2: "DATE_RULE", 3: "DATE_RULE"}),
    "25_duplicate_key": Case("LOADED", (4, 2, 2), {2: "UNKNOWN_CODE", 4: "DUPLICATE_KEY"}),
    "26_several_faults": Case("LOADED", (3, 1, 2), {2: "MISSING_VALUE", 3: "UNKNOWN_CODE"}),
    # One row of 3 fields where the header has 12, among 175 good ones (issue 10, item 1):
    # DuckDB logs one reject per missing column, which once rejected the whole file.
    "27_too_few_fields_in_long_file": Case("LOADED", (176, 175, 1), {5: "WRONG_FIELD_COUNT"}),
    "28_three_fields_too_many": Case("LOADED", (176, 175, 1), {122: "WRONG_FIELD_COUNT"}),
    # Found by the property test (test_loader_properties.py):
    "29_mixed_line_endings": Case("LOADED", (3, 3, 0)),
    "30_blank_lines_before_header": Case("LOADED", (3, 2, 1), {5: "UNKNOWN_CODE"}),
    # a quote inside an unquoted value is a literal character, as DuckDB and Python's csv read it
    "31_quote_inside_unquoted_value": Case("LOADED", (4, 4, 0)),
    "32_empty_gzip": Case("REJECTED", message="not readable as gzip"),
    # readers disagree on text after a closing quote: the file is not readable as CSV
    "33_text_after_closing_quote": Case(
        "REJECTED", message="not readable as CSV: text after the closing quote of a value on "
        "line 2"
    ),
    # a literal quote then a line break: the line break ends the record, cut short, and the rest
    # of the value is a record of its own; both are quarantined, the other rows load
    "34_literal_quote_before_line_break": Case(
        "LOADED", (5, 3, 2), {3: "WRONG_FIELD_COUNT", 4: "WRONG_FIELD_COUNT"}
    ),
}


def corpus_file(case: str) -> Path:
    matches = list(CORPUS.glob(f"{case}__*"))
    assert len(matches) == 1, case
    return matches[0]


def test_every_corpus_file_has_a_documented_outcome():
    on_disk = {p.name.split("__")[0] for p in CORPUS.iterdir()}
    assert on_disk == set(CASES)
    assert len(CASES) >= 20


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "it's a \"landing\" with spaces"


def deliver(home: Path, case: str) -> tuple[Settings, Path]:
    settings = Settings.from_env({"ICW_HOME": str(home)})
    settings.ensure_dirs()
    source = corpus_file(case)
    delivered = settings.landing_dir / source.name.split("__", 1)[1]
    shutil.copyfile(source, delivered)
    return settings, delivered


@pytest.mark.parametrize("case", sorted(CASES))
def test_corpus_file_gets_its_documented_outcome(home: Path, case: str):
    expected = CASES[case]
    settings, delivered = deliver(home, case)
    original = delivered.read_bytes()
    con = connect(settings.warehouse)
    ingest(con, settings, log=lambda _: None)
    status, read, loaded, quarantined, message, stored_as = con.execute(
        "select status, rows_read, rows_loaded, rows_quarantined, message, stored_as "
        "from audit.loads"
    ).fetchone()
    assert status == expected.status
    assert expected.message in (message or "")
    if expected.rows is None:
        assert (read, loaded, quarantined) == (None, None, None)
    else:
        assert (read, loaded, quarantined) == expected.rows
        assert read == loaded + quarantined
    reasons = dict(
        con.execute("select line_number, reason_code from audit.quarantined_rows").fetchall()
    )
    assert reasons == expected.reasons
    extract = delivered.name.split("_")[0]
    if status == "LOADED":
        raw_rows = con.execute(f"select count(*) from raw.{extract}").fetchone()[0]
        assert raw_rows == loaded
        assert Path(stored_as).read_bytes() == original
        assert Path(stored_as).parent.parent == settings.archive_dir
    elif status == "REJECTED":
        assert Path(stored_as).parent == settings.quarantine_dir
        assert Path(stored_as).read_bytes() == original  # moved unaltered
    else:  # unrecognised: left in place, untouched
        assert delivered.read_bytes() == original
        assert stored_as is None
    if status != "LOADED":
        for table in ("referrals", "completions", "caseload"):
            assert con.execute(f"select count(*) from raw.{table}").fetchone()[0] == 0
    assert not delivered.exists() or status == "UNRECOGNISED_FILE"


def test_quarantine_messages_name_the_column_but_never_echo_the_value(home: Path):
    settings, _ = deliver(home, "20_unknown_code")
    con = connect(settings.warehouse)
    ingest(con, settings, log=lambda _: None)
    messages = [r[0] for r in con.execute("select message from audit.quarantined_rows").fetchall()]
    assert messages == [
        "value in column ldu_code is not a known code",
        "value in column gender is not a known code",
        "value in column sentence_type is not a known code",
    ]
    stored = con.execute(
        "select ldu_code, gender, person_id, age_band from audit.quarantined_rows "
        "order by line_number"
    ).fetchall()
    assert stored[0][0] == "XX99" and stored[1][1] == "M"  # the row's values, as text
    assert stored[0][2] == person_id("A000001", settings.pseudonymisation_key)
    assert stored[0][3] == "25-34"  # date of birth kept only as its age band


def test_lower_case_codes_are_normalised_not_rejected(home: Path):
    settings, _ = deliver(home, "15_lower_case_codes")
    con = connect(settings.warehouse)
    ingest(con, settings, log=lambda _: None)
    row = con.execute(
        "select referral_id, person_id, ldu_code, intervention_code, reoffending_band, status "
        "from raw.referrals"
    ).fetchone()
    assert row == ("RF00000001", person_id("A000001", settings.pseudonymisation_key), "WM02",
                   "SI_ATB", "HIGH", "WITHDRAWN")


def test_quoted_line_break_is_kept_in_the_value(home: Path):
    settings, _ = deliver(home, "16_quoted_newline_and_comma")
    con = connect(settings.warehouse)
    ingest(con, settings, log=lambda _: None)
    assert con.execute("select status_reason, line_number from raw.referrals").fetchone() == (
        'moved away, then\nreturned "later"', 2)


@pytest.mark.parametrize("case", ["31_quote_inside_unquoted_value",
                                  "34_literal_quote_before_line_break"])
def test_a_quote_inside_an_unquoted_value_is_kept_as_text(home: Path, case: str):
    settings, _ = deliver(home, case)
    con = connect(settings.warehouse)
    ingest(con, settings, log=lambda _: None)
    rows = con.execute(
        "select line_number, outcome_reason from raw.completions order by line_number"
    ).fetchall()
    if case.startswith("31"):
        assert rows == [(2, None), (3, 'said "done"'), (4, None), (5, 'was "late"')]
    else:  # the quoted value after the cut records is read whole, its doubled quotes undone
        assert rows == [(2, 'said "done"'), (5, 'on time,\nsaid "fine"'), (7, None)]


def test_unrecognised_file_is_recorded_once_and_reported_every_run(home: Path):
    settings, delivered = deliver(home, "10_unrecognised")
    con = connect(settings.warehouse)
    first = ingest(con, settings, log=lambda _: None)
    second = ingest(con, settings, log=lambda _: None)
    assert first.unrecognised == second.unrecognised == ["notes.txt"]
    assert con.execute("select count(*) from audit.loads").fetchone()[0] == 1
    assert delivered.exists()
