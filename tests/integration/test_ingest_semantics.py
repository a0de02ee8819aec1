"""What repeated, restated and interrupted deliveries do (docs/contract.md)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from orchestration.core.settings import Settings
from orchestration.core.warehouse import connect
from orchestration.ingestion.loader import Loader, ingest

pytestmark = pytest.mark.integration

K = ("snapshot_date,crn,ldu_code,sentence_type,reoffending_band,rosh_level,offence_category,"
     "gender,ethnicity_group,date_of_birth")
R = ("referral_id,crn,ldu_code,intervention_code,referral_date,reoffending_band,rosh_level,"
     "offence_category,status,status_reason,start_date,last_updated_at")


def caseload(date: str, crns: list[str]) -> str:
    rows = [f"{date},{c},WM01,LICENCE,HIGH,LOW,VIOLENCE,MALE,WHITE,1980-02-02" for c in crns]
    return "\n".join([K, *rows]) + "\n"


def referral(status: str, updated: str) -> str:
    return (f"RF00000001,A000001,WM01,TSP,2024-05-02,MEDIUM,LOW,VIOLENCE,{status},,,"
            f"{updated}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings.from_env({"ICW_HOME": str(tmp_path / "home")})
    s.ensure_dirs()
    return s


def run(settings: Settings):
    con = connect(settings.warehouse)
    try:
        return ingest(con, settings, log=lambda _: None), con
    except BaseException:
        con.close()
        raise


def test_the_same_bytes_twice_is_a_duplicate_and_changes_nothing(settings: Settings):
    text = caseload("2024-05-31", ["A000001", "A000002"])
    (settings.landing_dir / "caseload_2024-05-31.csv").write_text(text)
    _, con = run(settings)
    before = con.execute("select * from raw.caseload order by all").fetchall()
    con.close()
    (settings.landing_dir / "caseload_2024-05-31.csv").write_text(text)
    summary, con = run(settings)
    assert [o.status for o in summary.outcomes] == ["DUPLICATE"]
    assert con.execute("select * from raw.caseload order by all").fetchall() == before
    statuses = con.execute("select status, rows_read from audit.loads order by load_id").fetchall()
    assert statuses == [("LOADED", 2), ("DUPLICATE", None)]
    archived = sorted(p.name for p in (settings.archive_dir / "2024-05-31").iterdir())
    assert archived == ["caseload_2024-05-31.csv", "caseload_2024-05-31__2.csv"]


def test_a_second_caseload_file_for_a_snapshot_replaces_it_whole(settings: Settings):
    (settings.landing_dir / "caseload_2024-05-31.csv").write_text(
        caseload("2024-05-31", ["A000001", "A000002", "A000003"]))
    (settings.landing_dir / "caseload_2024-04-30.csv").write_text(
        caseload("2024-04-30", ["A000001"]))
    run(settings)[1].close()
    (settings.landing_dir / "caseload_2024-05-31.csv.gz").write_bytes(
        gzip.compress(caseload("2024-05-31", ["A000009"]).encode()))
    _, con = run(settings)
    by_date = con.execute(
        "select snapshot_date::varchar, count(*) from raw.caseload group by 1 order by 1"
    ).fetchall()
    assert by_date == [("2024-04-30", 1), ("2024-05-31", 1)]


def test_every_referral_version_is_kept(settings: Settings):
    (settings.landing_dir / "referrals_2024-05-31.csv").write_text(
        "\n".join([R, referral("AWAITING_ASSESSMENT", "2024-05-03T09:00:00")]) + "\n")
    (settings.landing_dir / "referrals_2024-06-30.csv").write_text(
        "\n".join([R, referral("WITHDRAWN", "2024-06-10T09:00:00")]) + "\n")
    _, con = run(settings)
    versions = con.execute(
        "select status, as_at_date::varchar from raw.referrals order by last_updated_at"
    ).fetchall()
    assert versions == [("AWAITING_ASSESSMENT", "2024-05-31"), ("WITHDRAWN", "2024-06-30")]


def test_files_are_processed_in_the_contract_order(settings: Settings):
    for name in ("completions_2024-05-31.csv", "referrals_2024-05-31.csv",
                 "caseload_2024-05-31.csv", "referrals_2024-04-30.csv"):
        shutil.copyfile(
            Path(__file__).resolve().parents[1] / "data" / "contract"
            / "11_header_only__completions_2024-05-31.csv",
            settings.landing_dir / name,
        )
    summary, con = run(settings)
    assert [o.file_name for o in summary.outcomes] == [
        "referrals_2024-04-30.csv", "caseload_2024-05-31.csv", "referrals_2024-05-31.csv",
        "completions_2024-05-31.csv"]


def test_a_file_committed_but_not_moved_is_only_moved_by_the_next_run(settings: Settings):
    """A run killed between the commit and the move: same arrival, not a new DUPLICATE."""
    text = caseload("2024-05-31", ["A000001"])
    landed = settings.landing_dir / "caseload_2024-05-31.csv"
    landed.write_text(text)
    _, con = run(settings)
    con.close()
    archived = settings.archive_dir / "2024-05-31" / "caseload_2024-05-31.csv"
    shutil.move(archived, landed)  # as if the move had never happened
    summary, con = run(settings)
    assert [(o.status, o.recovered) for o in summary.outcomes] == [("LOADED", True)]
    assert con.execute("select count(*) from audit.loads").fetchone()[0] == 1
    assert con.execute("select count(*) from raw.caseload").fetchone()[0] == 1
    assert archived.exists() and not landed.exists()


def test_a_rejected_file_can_be_fixed_and_delivered_again(settings: Settings):
    landed = settings.landing_dir / "caseload_2024-05-31.csv"
    landed.write_text(caseload("2024-05-31", ["A000001"]).replace("crn", "case_ref"))
    run(settings)[1].close()
    landed.write_text(caseload("2024-05-31", ["A000001"]))
    _, con = run(settings)
    assert con.execute("select status from audit.loads order by load_id").fetchall() == [
        ("REJECTED",), ("LOADED",)]
    assert sorted(p.name for p in settings.quarantine_dir.iterdir()) == [
        "caseload_2024-05-31.csv"]


def test_loaded_at_is_utc_whatever_the_servers_time_zone(settings: Settings):
    """The run summary and the freshness check compare loaded_at with UTC clocks."""
    import datetime as dt

    (settings.landing_dir / "caseload_2024-05-31.csv").write_text(
        caseload("2024-05-31", ["A000001"]))
    con = connect(settings.warehouse)
    con.execute("set TimeZone = 'America/New_York'")  # a server clock far from UTC
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ingest(con, settings, log=lambda _: None)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    loaded_at = con.execute("select loaded_at from audit.loads").fetchone()[0]
    assert before - dt.timedelta(seconds=1) <= loaded_at <= after + dt.timedelta(seconds=1)


def test_a_file_whose_records_the_reader_and_the_scan_count_differently_names_both_counts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    """Were DuckDB ever to split records unlike the line scan, the file is rejected whole."""
    read = Loader._read_csv

    def one_record_more(self, files):
        read(self, files)
        self.con.execute("insert into __batch select * from __batch limit 1")

    monkeypatch.setattr(Loader, "_read_csv", one_record_more)
    (settings.landing_dir / "caseload_2024-05-31.csv").write_text(
        caseload("2024-05-31", ["A000001"]))
    summary, con = run(settings)
    assert [(o.status, o.message) for o in summary.outcomes] == [(
        "REJECTED", "not readable as CSV: its records could not be matched to lines (DuckDB's "
        "reader found 3 records, the line scan 2, header included)")]
    assert con.execute("select count(*) from raw.caseload").fetchone()[0] == 0
