"""Set-based ingestion: an extract's files of a run load together, and each keeps its guarantees.

The loader reads, judges, pseudonymises, validates and inserts all of an extract's files of a run
at once (orchestration/ingestion/loader.py). What a file gets must not depend on the company it
arrives in: the same files loaded together and loaded one run each leave the same warehouse,
load ids and Great Expectations counts per file included; a file rejected in the middle of a batch
leaves nothing behind while the others load; the same bytes twice in one run load once.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect
from orchestration.ingestion import loader
from orchestration.ingestion.files import recognise
from orchestration.ingestion.loader import Loader, ingest

pytestmark = pytest.mark.integration

K = ("snapshot_date,crn,ldu_code,sentence_type,reoffending_band,rosh_level,offence_category,"
     "gender,ethnicity_group,date_of_birth")
R = ("referral_id,crn,ldu_code,intervention_code,referral_date,reoffending_band,rosh_level,"
     "offence_category,status,status_reason,start_date,last_updated_at")


def caseload_row(date: str, crn: str, ldu: str = "WM01", gender: str = "MALE",
                 born: str = "1980-02-02") -> str:
    return f"{date},{crn},{ldu},LICENCE,HIGH,LOW,VIOLENCE,{gender},WHITE,{born}"


def referral_row(rid: str, crn: str, status: str = "ON_PROGRAMME", reason: str = "",
                 updated: str = "2024-05-20T09:00:00") -> str:
    return (f"{rid},{crn},WM01,TSP,2024-05-02,MEDIUM,LOW,VIOLENCE,{status},{reason},,"
            f"{updated}")


def deliveries() -> dict[str, bytes]:
    """Files of every shape the batch must tell apart: layouts, line endings, odd lines, gzip."""
    files: dict[str, bytes] = {}
    files["caseload_2024-03-31.csv"] = ("\n".join([
        K, caseload_row("2024-03-31", "A000001"), caseload_row("2024-03-31", "A000002", "ZZ99"),
        caseload_row("2024-03-31", "A000001"),  # key repeated in the file
        caseload_row("2024-03-31", "A000003", gender="ALIEN"),
        caseload_row("2024-03-31", "A000004") + ",extra",  # wrong number of fields
    ]) + "\n").encode()
    # another layout (columns reordered, an extra column), CRLF, blank lines, a missing value
    cols = K.split(",")
    order = [cols[i] for i in (1, 0, 9, 2, 3, 4, 5, 6, 7, 8)] + ["comment"]

    def reordered(row: str) -> str:
        values = row.split(",")
        return ",".join([values[i] for i in (1, 0, 9, 2, 3, 4, 5, 6, 7, 8)] + ["x"])

    files["caseload_2024-04-30.csv"] = ("\r\n".join([
        "", ",".join(order), reordered(caseload_row("2024-04-30", "A000001")), "",
        reordered(caseload_row("2024-04-30", "A000002", born="")),
        reordered(caseload_row("2024-04-30", "a000003")), "", "",
        reordered(caseload_row("2024-04-30", "A000001")),  # a repeat: this file's own
    ]) + "\r\n").encode()
    files["caseload_2024-05-31.csv.gz"] = gzip.compress(("\n".join([
        K, *(caseload_row("2024-05-31", f"B{n:06d}") for n in range(1, 40)),
        caseload_row("2024-05-30", "B000099"),  # not the file's snapshot date
    ]) + "\n").encode(), mtime=0)
    # quoted line breaks and a literal quote: read serially, lines mapped one by one
    files["referrals_2024-05-31.csv"] = ("\n".join([
        R, referral_row("RF00000001", "A000001", reason='"moved\naway, then ""back"""'),
        referral_row("RF00000002", "A000002", status="LOST"),
        referral_row("RF00000003", "A000003", reason='said "done" here'),
        referral_row("RF00000001", "A000001"),
        referral_row("RF00000004", "A000004", updated="2024-06-01T00:00:00"),
    ]) + "\n").encode()
    files["referrals_2024-06-30.csv"] = ("\n".join([
        R, referral_row("RF00000001", "A000001", status="PROGRAMME_COMPLETE",
                        updated="2024-06-20T09:00:00"),
        referral_row("RF0000005", "A000005"),
    ])).encode()  # no final line break
    return files


def make_settings(home: Path) -> Settings:
    settings = Settings.from_env({"ICW_HOME": str(home)})
    settings.ensure_dirs()
    return settings


def warehouse_state(settings: Settings) -> dict[str, list]:
    """What the loads leave behind, load ids included, without times and paths."""
    con = connect(settings.warehouse)
    try:
        out = {
            table: con.execute(f"select * from {table} order by all").fetchall()
            for table in ("raw.caseload", "raw.referrals", "raw.completions",
                          "audit.quarantined_rows", "audit.expectation_results")
        }
        out["audit.loads"] = con.execute(
            "select load_id, file_name, status, sha256, rows_read, rows_loaded, "
            "rows_quarantined, message, bytes, extra_columns from audit.loads order by load_id"
        ).fetchall()
    finally:
        con.close()
    return out


@pytest.mark.parametrize("batch_records", [loader.BATCH_RECORDS, 8])
def test_files_loaded_together_leave_what_they_leave_loaded_one_run_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_records: int
):
    """Also when an extract's files are too many records for one batch (8: several batches)."""
    monkeypatch.setattr(loader, "BATCH_RECORDS", batch_records)
    files = deliveries()
    together = make_settings(tmp_path / "together")
    for name, data in files.items():
        (together.landing_dir / name).write_bytes(data)
    con = connect(together.warehouse)
    summary = ingest(con, together, log=lambda _: None)
    con.close()
    assert [o.status for o in summary.outcomes] == ["LOADED"] * len(files)

    alone = make_settings(tmp_path / "alone")
    for name in sorted(files, key=lambda n: recognise(Path(n)).sort_key()):  # contract order
        (alone.landing_dir / name).write_bytes(files[name])
        con = connect(alone.warehouse)
        ingest(con, alone, log=lambda _: None)
        con.close()
    a, b = warehouse_state(together), warehouse_state(alone)
    assert a == b
    # the batch saw every kind of row: the counts are not vacuous
    reasons = {row[4] for row in a["audit.quarantined_rows"]}
    assert reasons >= {"WRONG_FIELD_COUNT", "MISSING_VALUE", "UNKNOWN_CODE", "DATE_RULE",
                       "DUPLICATE_KEY", "INVALID_FORMAT"}
    per_file = {}
    for load_id, *_, count, _ok in a["audit.expectation_results"]:
        per_file[load_id] = per_file.get(load_id, 0) + count
    assert len(per_file) == len(files) and len(set(per_file.values())) > 1
    lines = {(row[1], row[3]) for row in a["audit.quarantined_rows"]}
    assert ("caseload_2024-04-30.csv", 9) in lines  # its repeat, after blank lines
    assert ("referrals_2024-05-31.csv", 6) in lines  # after a quoted line break


def test_a_file_rejected_mid_batch_leaves_nothing_while_the_others_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The second of three caseload files cannot be matched to lines; the first and third load."""
    settings = make_settings(tmp_path / "home")
    for date in ("2024-03-31", "2024-04-30", "2024-05-31"):
        rows = [caseload_row(date, f"A{n:06d}") for n in range(1, 6)]
        rows.append(caseload_row(date, "A000009", "ZZ99"))
        (settings.landing_dir / f"caseload_{date}.csv").write_text("\n".join([K, *rows]) + "\n")
    (settings.landing_dir / "caseload_2024-06-30.csv").write_text("no,header\n")  # whole-file
    read = Loader._read_csv

    def one_record_more_in_april(self, files):
        read(self, files)
        self.con.execute("insert into __batch select * from __batch "
                         "where filename like '%2024-04-30%' limit 1")

    monkeypatch.setattr(Loader, "_read_csv", one_record_more_in_april)
    con = connect(settings.warehouse)
    summary = ingest(con, settings, log=lambda _: None)
    assert [(o.file_name, o.status) for o in summary.outcomes] == [
        ("caseload_2024-03-31.csv", "LOADED"), ("caseload_2024-04-30.csv", "REJECTED"),
        ("caseload_2024-05-31.csv", "LOADED"), ("caseload_2024-06-30.csv", "REJECTED")]
    assert summary.outcomes[1].message == (
        "not readable as CSV: its records could not be matched to lines (DuckDB's reader found "
        "8 records, the line scan 7, header included)")
    assert con.execute(
        "select load_id, file_name, status, rows_read, rows_loaded, rows_quarantined "
        "from audit.loads order by load_id").fetchall() == [
        (1, "caseload_2024-03-31.csv", "LOADED", 6, 5, 1),
        (2, "caseload_2024-04-30.csv", "REJECTED", None, None, None),
        (3, "caseload_2024-05-31.csv", "LOADED", 6, 5, 1),
        (4, "caseload_2024-06-30.csv", "REJECTED", None, None, None)]
    for table in ("raw.caseload", "audit.quarantined_rows", "audit.expectation_results"):
        assert con.execute(f"select distinct load_id from {table} order by 1").fetchall() == [
            (1,), (3,)], table
    assert con.execute("select snapshot_date::varchar, count(*) from raw.caseload "
                       "group by all order by 1").fetchall() == [
        ("2024-03-31", 5), ("2024-05-31", 5)]
    con.close()
    assert sorted(p.name for p in settings.quarantine_dir.iterdir()) == [
        "caseload_2024-04-30.csv", "caseload_2024-06-30.csv"]
    assert not list(settings.landing_dir.iterdir())


def test_the_same_bytes_twice_in_one_run_load_once(tmp_path: Path):
    settings = make_settings(tmp_path / "home")
    text = "\n".join([R, referral_row("RF00000001", "A000001")]) + "\n"
    for date in ("2024-05-31", "2024-06-30"):
        (settings.landing_dir / f"referrals_{date}.csv").write_text(text)
    summary, con = _run(settings)
    assert [(o.file_name, o.status) for o in summary.outcomes] == [
        ("referrals_2024-05-31.csv", "LOADED"), ("referrals_2024-06-30.csv", "DUPLICATE")]
    assert con.execute("select count(*) from raw.referrals").fetchone()[0] == 1
    assert con.execute("select load_id, status from audit.loads order by load_id").fetchall() == [
        (1, "LOADED"), (2, "DUPLICATE")]
    con.close()


def test_the_same_bytes_as_a_file_rejected_in_the_run_are_loaded_on_their_own(tmp_path: Path):
    """A rejection for the name (not a month end) says nothing of the same bytes named well."""
    settings = make_settings(tmp_path / "home")
    text = "\n".join([K, caseload_row("2024-05-31", "A000001")]) + "\n"
    for date in ("2024-05-30", "2024-05-31"):
        (settings.landing_dir / f"caseload_{date}.csv").write_text(text)
    summary, con = _run(settings)
    assert [(o.file_name, o.status) for o in summary.outcomes] == [
        ("caseload_2024-05-30.csv", "REJECTED"), ("caseload_2024-05-31.csv", "LOADED")]
    assert con.execute("select load_id, status from audit.loads order by load_id").fetchall() == [
        (1, "REJECTED"), (2, "LOADED")]
    assert con.execute("select distinct load_id from raw.caseload").fetchall() == [(2,)]
    con.close()


def test_two_caseload_files_of_one_snapshot_in_one_run_the_later_replaces_it(tmp_path: Path):
    settings = make_settings(tmp_path / "home")
    (settings.landing_dir / "caseload_2024-05-31.csv").write_text(
        "\n".join([K, caseload_row("2024-05-31", "A000001"),
                   caseload_row("2024-05-31", "A000002")]) + "\n")
    (settings.landing_dir / "caseload_2024-05-31.csv.gz").write_bytes(gzip.compress(
        ("\n".join([K, caseload_row("2024-05-31", "A000009")]) + "\n").encode()))
    summary, con = _run(settings)
    assert [o.status for o in summary.outcomes] == ["LOADED", "LOADED"]
    assert con.execute("select load_id, file_name from raw.caseload").fetchall() == [
        (2, "caseload_2024-05-31.csv.gz")]
    con.close()


def _run(settings: Settings):
    con = connect(settings.warehouse)
    return ingest(con, settings, log=lambda _: None), con



def test_a_file_duckdbs_reader_refuses_is_rejected_and_the_others_still_load(tmp_path: Path):
    """A record over DuckDB's 10 MB line limit passes the line scan but not DuckDB's reader.

    The batch's read fails (and DuckDB aborts the transaction): the loader rolls back, reads each
    file alone to find the one refused, rejects it and loads the others, ids in order.
    """
    settings = make_settings(tmp_path / "home")
    for date in ("2024-03-31", "2024-04-30", "2024-05-31"):
        long = ",comment" if date == "2024-04-30" else ""
        row = caseload_row(date, "A000001") + ("," + "x" * 10_000_001 if long else "")
        (settings.landing_dir / f"caseload_{date}.csv").write_text(f"{K}{long}\n{row}\n")
    summary, con = _run(settings)
    assert [(o.file_name, o.status) for o in summary.outcomes] == [
        ("caseload_2024-03-31.csv", "LOADED"), ("caseload_2024-04-30.csv", "REJECTED"),
        ("caseload_2024-05-31.csv", "LOADED")]
    assert summary.outcomes[1].message == (
        "not readable as CSV (DuckDB's reader: CSV Error on Line: 2)")
    assert con.execute("select load_id, status from audit.loads order by load_id").fetchall() == [
        (1, "LOADED"), (2, "REJECTED"), (3, "LOADED")]
    assert con.execute(
        "select load_id, snapshot_date::varchar from raw.caseload order by 1").fetchall() == [
        (1, "2024-03-31"), (3, "2024-05-31")]
    con.close()
