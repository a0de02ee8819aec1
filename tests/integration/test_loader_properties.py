"""The loader keeps the contract's promises for any damaged variant of a valid extract file.

Hypothesis builds a valid file of one extract and damages it the ways deliveries go wrong: fields
added or removed (one or several), quotes opened and never closed, a stray quote inside an
unquoted value (a literal character, as DuckDB and Python's csv read it), one before a line
break (which ends the record there), quoted line breaks, commas and quotes, CRLF or mixed line
endings, a byte-order mark, blank lines (before the header too), spaces around values and header
names, lower case, a missing column, an extra column, invalid UTF-8 bytes, a truncated gzip, the
header line again in the body, a row repeated.

The expected outcome is not the loader's rules run again. Each damage says what it does to its
own record (a reason code of docs/contract.md, or nothing), this test writes the file itself so it
knows the physical line where every record starts (checked again with Python's csv module), and
the rows it expects loaded are the base records' own typed values. For every file:

- no exception escapes the loader;
- a file is rejected whole only when a whole-file fault was applied, and only for a reason the
  contract lists for whole files (not UTF-8, not readable as CSV or gzip, missing column);
- otherwise rows read = rows loaded + rows quarantined, every quarantined row has the physical
  line where its record starts and the first reason in the contract's order, and the loaded rows
  (CRN as its keyed pseudonym, date of birth as its age band) are exactly the valid records'.

ICW_FUZZ_EXAMPLES sets the number of examples (200 by default, seeded, so `make test` runs the
same files every time); `make test-fuzz` runs 5,000. Great Expectations validates every loaded
file here as in production: about half of each example's time (0.2 s on an idle core).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect_config
from orchestration.ingestion import contract as c
from orchestration.ingestion.files import recognise
from orchestration.ingestion.loader import Loader
from orchestration.ingestion.pseudonymise import person_id

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("ICW_FUZZ_EXAMPLES") or 200)
AS_AT = dt.date(2024, 5, 31)
KEY = "property-test key"
REFERENCE = c.load_reference_codes()
CODE_KINDS = {"enum", "reference", "crn", "referral_id"}

#: The contract's reasons for rejecting a file whole, as the loader's messages begin.
NOT_UTF8 = "not UTF-8"
NOT_CSV = "not readable as CSV"
NOT_GZIP = "not readable as gzip"
MISSING_COLUMN = "missing required column"
WHOLE_FILE_REASONS = (NOT_UTF8, NOT_CSV, NOT_GZIP, MISSING_COLUMN)

INVALID_UTF8 = (b"\xff", b"\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80")
PLAIN_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-.", min_size=1,
                     max_size=8)


def rarely(draw, percent: int) -> bool:
    """True about percent times in a hundred (Hypothesis shrinks towards False: no damage)."""
    return draw(st.integers(0, 99)) >= 100 - percent


# -- valid base records ---------------------------------------------------------------------------


def _dates(low: dt.date, high: dt.date) -> st.SearchStrategy[dt.date]:
    return st.dates(min_value=low, max_value=high)


def _timestamps(low: dt.date) -> st.SearchStrategy[dt.datetime]:
    return st.datetimes(
        min_value=dt.datetime.combine(low, dt.time()),
        max_value=dt.datetime.combine(AS_AT, dt.time(23, 59, 59)),
    ).map(lambda t: t.replace(microsecond=0))


#: Free text as a delivery may hold it: commas, quotes, line breaks and non-ASCII letters too.
FREE_TEXT = st.one_of(
    st.none(),
    PLAIN_TEXT,
    st.lists(st.sampled_from(["moved", "away", ",", '"', "\n", "\r\n", "é", "then", " "]),
             min_size=1, max_size=6).map("".join),
).map(lambda s: (s.strip(" ") or None) if s is not None else None)


def _code(column: c.Column) -> st.SearchStrategy[str]:
    return st.sampled_from(column.values or REFERENCE[column.reference or ""])


@st.composite
def base_record(draw, extract: c.Extract, number: int) -> dict[str, object]:
    """A valid record of the extract whose key is made unique by number."""
    record: dict[str, object] = {}
    crn = f"{draw(st.sampled_from('ABCDEFXYZ'))}{number:06d}"
    if extract.name == "referrals":
        referral_date = draw(_dates(dt.date(2023, 1, 1), AS_AT))
        record = {
            "referral_id": f"RF{number:08d}",
            "crn": crn,
            "referral_date": referral_date,
            "status_reason": draw(FREE_TEXT),
            "start_date": draw(st.one_of(st.none(), _dates(referral_date, AS_AT))),
            "last_updated_at": draw(_timestamps(referral_date)),
        }
    elif extract.name == "completions":
        start = draw(_dates(dt.date(2023, 1, 1), AS_AT))
        record = {
            "referral_id": f"RF{number:08d}",
            "crn": crn,
            "start_date": start,
            "end_date": draw(_dates(start, AS_AT)),
            "outcome_reason": draw(FREE_TEXT),
            "sessions_attended": draw(st.integers(0, 60)),
            "sessions_required": draw(st.integers(1, 60)),
            "recorded_at": draw(_timestamps(start)),
        }
    else:
        record = {
            "snapshot_date": AS_AT,
            "crn": crn,
            "date_of_birth": draw(_dates(dt.date(1940, 1, 1), AS_AT)),
        }
    for column in extract.columns:
        if column.kind in {"enum", "reference"}:
            record[column.name] = draw(_code(column))
    return record


def as_text(value: object) -> str:
    """A value as a delivery writes it (before any quoting)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def needs_quotes(text: str) -> bool:
    return any(ch in text for ch in ',"\r\n')


def age_band(born: dt.date, on: dt.date) -> str:
    """The contract's age band at the snapshot date (docs/contract.md, caseload)."""
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for limit, band in ((18, "UNDER_18"), (25, "18-24"), (35, "25-34"), (50, "35-49")):
        if age < limit:
            return band
    return "50+"


def loaded_row(extract: c.Extract, record: dict[str, object]) -> tuple:
    """The raw table's row for a valid record (after its line number)."""
    out: list[object] = []
    for column in extract.columns:
        value = record[column.name]
        if column.name == extract.crn_column:
            out.append(person_id(str(value), KEY))
        elif column.name == extract.dob_column:
            out.append(age_band(value, record["snapshot_date"]))  # type: ignore[arg-type]
        else:
            out.append(value)
    return tuple(out)


# -- the delivered file and what the contract says should happen to it ---------------------------


@dataclass
class Record:
    """One record as written, with the outcome its damage implies."""

    fields: list[str]
    reasons: list[str] = field(default_factory=list)  # every reason its damage implies
    key: tuple | None = None
    row: tuple | None = None
    damage: list[str] = field(default_factory=list)

    @property
    def first_reason(self) -> str | None:
        return min(self.reasons, key=c.REASON_ORDER.index) if self.reasons else None


@dataclass
class Delivery:
    """A delivered file: its name and bytes, and the outcome expected of it."""

    name: str
    data: bytes
    extract: str
    rejected_for: set[str]  # whole-file reasons that apply; empty: the file loads
    reasons: dict[int, str]  # physical line -> reason code, for quarantined records
    rows: list[tuple]  # (line, *values) of the rows loaded, in line order
    rows_read: int
    extra_column: bool
    damage: list[str]

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return (f"Delivery({self.name!r}, {self.data!r}, rejected_for={sorted(self.rejected_for)}"
                f", reasons={self.reasons}, damage={self.damage})")


@st.composite
def deliveries(draw) -> Delivery:
    """A valid extract file, damaged, with its expected outcome."""
    extract = c.EXTRACTS[draw(st.sampled_from(c.EXTRACT_ORDER))]
    damage: list[str] = []
    rejected_for: set[str] = set()

    # the header: any order, maybe an extra column, maybe a column missing, names cased and spaced
    columns = list(draw(st.permutations(extract.column_names)))
    extra = draw(st.booleans())
    if extra:
        columns.insert(draw(st.integers(0, len(columns))), "comment")
    if rarely(draw, 8):
        dropped = draw(st.sampled_from(extract.column_names))
        columns.remove(dropped)
        damage.append(f"column {dropped} missing")
        rejected_for.add(MISSING_COLUMN)
    header = []
    for name in columns:
        name = draw(st.sampled_from([name, name.upper(), name.title()]))
        header.append(" " * draw(st.integers(0, 2)) + name + " " * draw(st.integers(0, 2)))

    # the records: valid, each damaged in its own way
    numbers = draw(st.lists(st.integers(1, 999_999), min_size=0, max_size=6, unique=True))
    bases = [draw(base_record(extract, n)) for n in numbers]
    records: list[Record] = []
    for base in bases:
        records.append(draw(written_record(extract, columns, base)))
    for _ in range(draw(st.integers(0, 2)) if bases else 0):  # a row repeated, anywhere
        base = draw(st.sampled_from(bases))
        records.insert(draw(st.integers(0, len(records))),
                       draw(written_record(extract, columns, base, repeat=True)))
    if draw(st.integers(0, 5)) == 0:  # the header line again, in the body: a data row
        copy = Record(list(header), [c.INVALID_TYPE], damage=["header line repeated"])
        records.insert(draw(st.integers(0, len(records))), copy)

    # a quote opened and never closed: RFC 4180 cannot read the file
    unclosed = records and rarely(draw, 8)
    if unclosed:
        record = draw(st.sampled_from(records))
        i = draw(st.integers(0, len(record.fields) - 1))
        record.fields[i] = '"' + record.fields[i]
        record.damage.append(f"quote opened in field {i}, never closed")
        rejected_for.add(NOT_CSV)
    # a stray quote inside an unquoted value: a literal character of the value, as DuckDB and
    # Python's csv read it (not with a quote never closed, which a literal quote could close)
    if records and not unclosed and rarely(draw, 8):
        record = draw(st.sampled_from(records))
        unquoted = [i for i, f in enumerate(record.fields)
                    if f.strip(" ") and not f.strip(" ").startswith('"')]
        if unquoted:
            i = draw(st.sampled_from(unquoted))
            text = record.fields[i]
            first = len(text) - len(text.lstrip(" "))
            at = draw(st.integers(first + 1, len(text)))
            record.fields[i] = text[:at] + '"' + text[at:]
            record.damage.append(f"stray quote in unquoted field {i}")
            _read_literally(extract, columns, record, i)
    # ... and one followed by a line break, which ends the record there like any line break
    # outside quotes: two short records, each quarantined at its own line (not the first field
    # or the last, so each part has fields on both sides of a comma: neither is a blank line)
    if records and not unclosed and rarely(draw, 8):
        at_record = draw(st.integers(0, len(records) - 1))
        record = records[at_record]
        inner = [i for i, f in enumerate(record.fields[:-1])
                 if i > 0 and f.strip(" ") and '"' not in f]
        if len(record.fields) == len(columns) and inner:
            i = draw(st.sampled_from(inner))
            text = record.fields[i]
            first = len(text) - len(text.lstrip(" "))
            at = draw(st.integers(first + 1, len(text)))
            damage_note = [f"quote then line break in unquoted field {i}"]
            records[at_record : at_record + 1] = [
                Record(record.fields[:i] + [text[:at] + '"'], [c.WRONG_FIELD_COUNT],
                       damage=record.damage + damage_note),
                Record([text[at:]] + record.fields[i + 1 :], [c.WRONG_FIELD_COUNT],
                       damage=["rest of the record cut by a literal quote"]),
            ]

    # RFC 4180 has no spaces outside quotes: a quoted value with spaces around it
    for record in records:
        padded = [i for i, f in enumerate(record.fields)
                  if f != f.strip(" ") and f.strip(" ").startswith('"')]
        if padded:
            record.damage.append(f"spaces outside the quotes of field {padded[0]}")
            rejected_for.add(NOT_CSV)

    # the bytes: line endings, blank lines, byte-order mark, encoding, gzip
    eol = draw(st.sampled_from(["\n", "\r\n", "mixed"]))
    blanks_before_header = draw(st.integers(0, 2)) if draw(st.integers(0, 4)) == 0 else 0
    body: list[Record | str] = ["header"]
    for record in records:
        body.extend([""] * (draw(st.integers(0, 2)) if draw(st.integers(0, 4)) == 0 else 0))
        body.append(record)
    body.extend([""] * (draw(st.integers(0, 2)) if draw(st.integers(0, 4)) == 0 else 0))
    body = [""] * blanks_before_header + body  # "": a blank line
    final_newline = draw(st.booleans())
    text_parts: list[str] = []
    starts: list[tuple[Record, int]] = []
    offset_lines = 1
    for n, item in enumerate(body):
        ending = eol if eol != "mixed" else draw(st.sampled_from(["\n", "\r\n"]))
        if n == len(body) - 1 and not final_newline:
            ending = ""
        if isinstance(item, Record):
            line_text = ",".join(item.fields)
            if line_text == "":  # fields all removed but an empty one: a blank line, not a row
                item.reasons, item.damage = [], item.damage + ["became a blank line"]
            else:
                starts.append((item, offset_lines))
        elif item == "header":
            line_text = ",".join(header)
        else:
            line_text = ""
        text_parts.append(line_text + ending)
        offset_lines += (line_text + ending).count("\n")
    text = "".join(text_parts)
    bom = draw(st.booleans())
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    if rarely(draw, 8):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(INVALID_UTF8)) + data[at:]
        damage.append(f"invalid UTF-8 at byte {at}")
        rejected_for.add(NOT_UTF8)
    name = f"{extract.name}_{AS_AT.isoformat()}.csv"
    if draw(st.booleans()):
        name += ".gz"
        data = gzip.compress(data, mtime=0)
        if rarely(draw, 10):
            data = data[: draw(st.integers(0, len(data) - 1))]
            damage.append("gzip truncated")
            rejected_for.add(NOT_GZIP)

    # what the contract says of each record: its own first reason, then keys among valid rows
    seen: set[tuple] = set()
    reasons: dict[int, str] = {}
    rows: list[tuple] = []
    for record, line in starts:
        reason = record.first_reason
        if reason is None and record.key in seen:
            reason = c.DUPLICATE_KEY
        if reason is None:
            seen.add(record.key)  # type: ignore[arg-type]
            rows.append((line, *record.row))  # type: ignore[misc]
        else:
            reasons[line] = reason
    if not rejected_for:
        _check_oracle_lines(text, [line for _, line in starts])
    damage += [f"line {line}: {', '.join(r.damage)}" for r, line in starts if r.damage]
    return Delivery(name, data, extract.name, rejected_for, reasons, rows, len(starts), extra,
                    damage)


@st.composite
def written_record(draw, extract: c.Extract, columns: list[str], base: dict[str, object],
                   repeat: bool = False) -> Record:
    """A base record written in the header's column order, then damaged (or not)."""
    record = Record([], key=tuple(base[k] for k in extract.key), row=loaded_row(extract, base))
    if repeat:
        record.damage.append("repeat of an earlier row")
    kinds = {col.name: col.kind for col in extract.columns}
    for name in columns:
        value = as_text(base[name]) if name in base else draw(PLAIN_TEXT)
        kind = kinds.get(name, "text")
        # cosmetic: lower-case codes, spaces around values, quotes where none are needed
        if kind in CODE_KINDS and draw(st.integers(0, 3)) == 0:
            value = value.lower()
        if needs_quotes(value) or draw(st.integers(0, 5)) == 0:
            inner = value
            if draw(st.integers(0, 5)) == 0:
                inner = " " + inner + " "
            value = quoted(inner)
        # spaces around a quoted value break RFC 4180 (the whole file): rarely
        if rarely(draw, 1 if value.startswith('"') else 15):
            value = " " * draw(st.integers(1, 2)) + value + " " * draw(st.integers(0, 2))
        record.fields.append(value)

    fault = draw(st.sampled_from(["none"] * 6 + ["lower", "blank", "add", "remove"]))
    if fault == "lower":  # every field lower case: codes are normalised, a timestamp's T is not
        record.fields = [f.lower() for f in record.fields]
        record.damage.append("lower case")
        if any(col.kind == "timestamp" for col in extract.columns):
            record.reasons.append(c.INVALID_TYPE)
        else:  # nothing else changes (no free text in this extract)
            assert not any(col.kind == "text" for col in extract.columns)
    elif fault == "blank":  # a required value missing (empty, spaces, or an empty quoted field)
        required = [i for i, n in enumerate(columns)
                    if n in kinds and extract.column(n).required]
        i = draw(st.sampled_from(required))
        record.fields[i] = draw(st.sampled_from(["", "  ", '""', '" "']))
        record.damage.append(f"{columns[i]} blank")
        record.reasons.append(c.MISSING_VALUE)
    elif fault == "add":
        for _ in range(draw(st.integers(1, 4))):
            record.fields.insert(draw(st.integers(0, len(record.fields))), draw(PLAIN_TEXT))
        record.damage.append(f"{len(record.fields) - len(columns)} field(s) added")
        record.reasons.append(c.WRONG_FIELD_COUNT)
    elif fault == "remove":
        for _ in range(draw(st.integers(1, len(record.fields) - 1))):
            record.fields.pop(draw(st.integers(0, len(record.fields) - 1)))
        record.damage.append(f"{len(columns) - len(record.fields)} field(s) removed")
        record.reasons.append(c.WRONG_FIELD_COUNT)
    return record


#: What a quote in a value of each kind makes of its record (docs/contract.md's reason codes).
QUOTED_VALUE_REASON = {"date": c.INVALID_TYPE, "timestamp": c.INVALID_TYPE,
                       "integer": c.INVALID_TYPE, "enum": c.UNKNOWN_CODE,
                       "reference": c.UNKNOWN_CODE, "crn": c.INVALID_FORMAT,
                       "referral_id": c.INVALID_FORMAT}


def _read_literally(extract: c.Extract, columns: list[str], record: Record, i: int) -> None:
    """The record's outcome once field i holds a literal quote.

    A code, CRN, date or number with a quote in it is not valid; free text keeps the quote
    (trimmed, like every value); an extra column's value is ignored. When fields were added or
    removed they no longer line up with the header, and the record is quarantined anyway.
    """
    if len(record.fields) != len(columns) or columns[i] not in extract.column_names:
        return
    column = extract.column(columns[i])
    if column.kind != "text":
        record.reasons.append(QUOTED_VALUE_REASON[column.kind])
    elif record.row is not None:
        row = list(record.row)
        row[extract.column_names.index(column.name)] = record.fields[i].strip(" ")
        record.row = tuple(row)


def _check_oracle_lines(text: str, expected: list[int]) -> None:
    """The test's own line numbers agree with Python's csv module (a check on the oracle)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    found, last = [], 0
    for fields in reader:
        start = last + 1
        last = reader.line_num
        if fields:
            found.append(start)
    # the first non-blank record is the header
    assert found[1:] == expected, (found, expected)


# -- the property ----------------------------------------------------------------------------------


def load(delivery: Delivery, home: Path) -> tuple[duckdb.DuckDBPyConnection, Settings]:
    settings = Settings.from_env({"ICW_HOME": str(home), "ICW_PSEUDONYMISATION_KEY": KEY})
    settings.ensure_dirs()
    landed = settings.landing_dir / delivery.name
    landed.write_bytes(delivery.data)
    con = duckdb.connect(":memory:", config=connect_config())
    loader = Loader(con, settings, reference_codes=REFERENCE, log=lambda _: None)
    loader.ingest_file(recognise(landed))
    return con, settings


def check(delivery: Delivery) -> None:
    home = Path(tempfile.mkdtemp(prefix="icw-fuzz-"))
    try:
        con, settings = load(delivery, home)
        try:
            check_outcome(con, settings, delivery)
        finally:
            con.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def check_outcome(con: duckdb.DuckDBPyConnection, settings: Settings, d: Delivery) -> None:
    status, read, loaded, quarantined, message, stored_as = con.execute(
        "select status, rows_read, rows_loaded, rows_quarantined, message, stored_as "
        "from audit.loads"
    ).fetchone()
    table = f"raw.{d.extract}"
    if d.rejected_for:
        assert status == "REJECTED", (status, message)
        assert any(message.startswith(reason) for reason in d.rejected_for), message
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == 0
        assert con.execute("select count(*) from audit.quarantined_rows").fetchone()[0] == 0
        assert Path(stored_as).parent == settings.quarantine_dir
        assert Path(stored_as).read_bytes() == d.data  # moved unaltered
        return
    assert status == "LOADED", message
    assert ("extra column(s) ignored: comment" in message.lower()) == d.extra_column, message
    assert read == loaded + quarantined
    assert (read, loaded, quarantined) == (d.rows_read, len(d.rows), len(d.reasons))
    reasons = dict(con.execute(
        "select line_number, reason_code from audit.quarantined_rows order by line_number"
    ).fetchall())
    assert reasons == d.reasons
    rows = con.execute(
        f"select * exclude (load_id, file_name, as_at_date) from {table} order by line_number"
    ).fetchall()
    assert rows == d.rows
    assert Path(stored_as).read_bytes() == d.data


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(deliveries())
def test_a_damaged_extract_file_keeps_the_contracts_promises(delivery: Delivery):
    check(delivery)
