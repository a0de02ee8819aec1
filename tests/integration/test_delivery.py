"""Each recipient is emailed only their PDF through a real SMTP server (aiosmtpd on 127.0.0.1).

The server refuses one recipient for now (451, once) and one for good (550): the first is sent
on a second attempt, the second is reported, and everyone else is still sent their file. The
attachments are opened with pypdf. The PDFs are small stand-ins written here (the LDU in the
title and the name), so the test does not depend on the report's printer.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from dagster_duckdb import DuckDBResource
from pypdf import PdfReader, PdfWriter

from orchestration.core.resources import IcwSettings
from orchestration.core.settings import Settings
from orchestration.reporting import delivery
from orchestration.reporting.assets import DELIVERY_KEY, REPORT_KEY, report_emailed
from orchestration.reporting.delivery import (
    DeliveryError,
    Recipient,
    deliver,
    is_configured,
    load_recipients,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

MONTH = "2025-09"
LDUS = ("WM01", "WM02", "WM03")
LATER = "later@example.org"  # refused with 451 the first time
GONE = "gone@example.org"  # refused with 550


class Inbox:
    """An aiosmtpd handler that keeps what it is sent, and refuses some recipients."""

    def __init__(self, later: tuple[str, ...] = (), gone: tuple[str, ...] = ()) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.later, self.gone = set(later), set(gone)
        self.refusals: list[tuple[str, int]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.gone:
            self.refusals.append((address, 550))
            return "550 5.1.1 no such mailbox"
        if address in self.later:
            self.later.discard(address)
            self.refusals.append((address, 451))
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def received(self) -> dict[str, list[EmailMessage]]:
        """Messages by recipient."""
        by_recipient: dict[str, list[EmailMessage]] = {}
        for _, recipients, message in self.messages:
            for r in recipients:
                by_recipient.setdefault(r, []).append(message)
        return by_recipient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"reports" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


def _serve(inbox: Inbox, **options) -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server delivering into inbox, for the length of a test."""
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    yield from _serve(Inbox(later=(LATER,), gone=(GONE,)))


@pytest.fixture
def smtp_server_with_login() -> Iterator[tuple[Inbox, int]]:
    yield from _serve(
        Inbox(),
        authenticator=_authenticate,
        auth_required=True,
        auth_require_tls=False,  # a local relay without TLS, as the loopback rule allows
    )


def _pdf(path: Path, title: str) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    with path.open("wb") as handle:
        writer.write(handle)
    return path


@pytest.fixture
def pdfs(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """This month's pack and a scorecard for each LDU but WM03 (whose print failed)."""
    reports = tmp_path / "reports"
    reports.mkdir()
    pack = _pdf(reports / f"icw-pack-{MONTH}.pdf", "ICW division pack")
    cards = {
        code: _pdf(reports / f"icw-scorecard-{code}-{MONTH}.pdf", f"ICW scorecard {code}")
        for code in LDUS[:2]
    }
    return pack, cards


@pytest.fixture
def recipients_file(tmp_path: Path) -> Path:
    path = tmp_path / "recipients.csv"
    path.write_text(
        "pack,ldu_code,email,name\n"
        "DIVISION,,head.of.division@example.org,Head of the division\n"
        f"DIVISION,,{LATER},Performance lead\n"
        "LDU,WM01,head.wm01@example.org,Head of WM01\n"
        f"LDU,WM01,{GONE},Former deputy of WM01\n"
        "LDU,WM02,head.wm02@example.org,Head of WM02\n"
        "LDU,WM03,head.wm03@example.org,Head of WM03\n"
    )
    return path


def _settings(port: int, recipients: Path | None = None, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "ICW_HOME": "/tmp/icw-delivery-test",
            "ICW_SMTP_HOST": "127.0.0.1",
            "ICW_SMTP_PORT": str(port),
            "ICW_SMTP_SENDER": "icw@probation.example",
            **({"ICW_REPORT_RECIPIENTS_FILE": str(recipients)} if recipients else {}),
            **extra,
        }
    )


def _attached_title(message: EmailMessage) -> tuple[str, str]:
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    reader = PdfReader(BytesIO(attachment.get_content()))
    assert len(reader.pages) == 1
    return attachment.get_filename(), reader.metadata.title


def test_each_recipient_gets_only_their_pdf_and_a_refusal_stops_no_one(
    smtp_server, pdfs, recipients_file
):
    inbox, port = smtp_server
    pack, cards = pdfs
    settings = _settings(port, recipients_file)
    waited: list[float] = []

    outcomes = deliver(
        settings, load_recipients(settings), MONTH, pack, cards, "2025-10-03",
        waits=(2.0, 10.0), sleep=waited.append,
    )

    by_email = {o.email: o for o in outcomes}
    assert [(o.email, o.status, o.attempts) for o in outcomes] == [
        ("head.of.division@example.org", "SENT", 1),
        (LATER, "SENT", 2),  # 451 the first time, then sent
        ("head.wm01@example.org", "SENT", 1),
        (GONE, "FAILED", 1),  # 550 is for good: not tried again
        ("head.wm02@example.org", "SENT", 1),
        ("head.wm03@example.org", "FAILED", 0),  # the run made no WM03 scorecard
    ]
    assert waited == [2.0]  # one wait, before the 451 recipient's second attempt
    assert by_email[GONE].error.startswith("550")
    assert f"icw-scorecard-WM03-{MONTH}.pdf" in by_email["head.wm03@example.org"].error
    assert inbox.refusals == [(LATER, 451), (GONE, 550)]

    received = inbox.received()
    assert set(received) == {
        "head.of.division@example.org", LATER, "head.wm01@example.org", "head.wm02@example.org"
    }
    for recipient in received:
        assert len(received[recipient]) == 1, f"{recipient} was sent more than one message"
    assert _attached_title(received["head.of.division@example.org"][0]) == (
        f"icw-pack-{MONTH}.pdf", "ICW division pack")
    assert _attached_title(received[LATER][0]) == (f"icw-pack-{MONTH}.pdf", "ICW division pack")
    for code in ("WM01", "WM02"):
        [message] = received[f"head.{code.lower()}@example.org"]
        assert _attached_title(message) == (
            f"icw-scorecard-{code}-{MONTH}.pdf", f"ICW scorecard {code}")
        assert message["To"] == f"head.{code.lower()}@example.org"  # no one else's address
        assert message["Subject"] == f"ICW monthly report: September 2025 (scorecard for {code})"
        assert "2025-10-03" in message.get_body(("plain",)).get_content()


def test_a_file_of_another_month_or_ldu_is_never_sent(smtp_server, pdfs, tmp_path):
    inbox, port = smtp_server
    pack, cards = pdfs
    settings = _settings(port)
    wrong = {"WM02": cards["WM01"]}  # WM01's scorecard recorded as WM02's
    outcomes = deliver(
        settings,
        [Recipient("LDU", "WM02", "head.wm02@example.org"),
         Recipient("DIVISION", None, "head.of.division@example.org")],
        "2025-10", pack, wrong, waits=(),
    )
    assert [o.status for o in outcomes] == ["FAILED", "FAILED"]
    assert inbox.messages == []


def test_the_seed_is_the_default_and_the_override_file_replaces_it(tmp_path):
    seed = load_recipients(Settings.from_env({"ICW_HOME": "/tmp/x"}))
    assert {r.ldu_code for r in seed if r.pack == "LDU"} >= {"WM01", "EM07"}
    assert all(r.email.endswith("@example.org") for r in seed)
    assert any(r.pack == "DIVISION" for r in seed)

    bad = tmp_path / "bad.csv"
    bad.write_text("pack,ldu_code,email,name\nLDU,,x@example.org,No LDU\n")
    with pytest.raises(DeliveryError, match=r"bad\.csv, line 2: pack must be"):
        load_recipients(
            Settings.from_env({"ICW_HOME": "/tmp/x", "ICW_REPORT_RECIPIENTS_FILE": str(bad)})
        )


def test_a_login_is_used_when_credentials_are_set(smtp_server_with_login, pdfs):
    inbox, port = smtp_server_with_login
    pack, _ = pdfs
    settings = _settings(port, ICW_SMTP_USER="reports", ICW_SMTP_PASSWORD="s3cret")
    [outcome] = deliver(
        settings, [Recipient("DIVISION", None, "head@example.org")], MONTH, pack, {}, waits=()
    )
    assert outcome.status == "SENT"
    assert len(inbox.messages) == 1


def test_a_wrong_password_fails_naming_the_server_and_sends_nothing(
    smtp_server_with_login, pdfs
):
    inbox, port = smtp_server_with_login
    pack, _ = pdfs
    settings = _settings(port, ICW_SMTP_USER="reports", ICW_SMTP_PASSWORD="wrong")
    with pytest.raises(DeliveryError, match=rf"through 127\.0\.0\.1:{port}"):
        deliver(settings, [Recipient("DIVISION", None, "h@example.org")], MONTH, pack, {})
    assert inbox.messages == []


def test_no_server_listening_is_a_clear_error(pdfs):
    pack, _ = pdfs
    with pytest.raises(DeliveryError, match="could not email the report through 127.0.0.1"):
        deliver(_settings(_free_port()), [Recipient("DIVISION", None, "h@example.org")],
                MONTH, pack, {})


def test_delivery_needs_a_server():
    assert not is_configured(Settings.from_env({"ICW_HOME": "/tmp/x"}))
    assert is_configured(Settings.from_env({"ICW_HOME": "/tmp/x", "ICW_SMTP_HOST": "mail"}))


# The Dagster step: this run's files, every outcome recorded, a failure after everyone was tried


def _report_of_this_run(pack: Path | None, cards: dict[str, Path], fail: bool = False):
    """A stand-in for report_site that records this run's PDFs as the real one does."""

    @dg.asset(key=REPORT_KEY)
    def report_site() -> dg.MaterializeResult:
        if fail:
            raise dg.Failure(description="the report was not rebuilt")
        return dg.MaterializeResult(
            metadata={
                "pack": dg.MetadataValue.path(str(pack)),
                "scorecards": dg.MetadataValue.json({c: str(p) for c, p in cards.items()}),
                "reporting_month": MONTH,
                "as_at_date": "2025-10-03",
            }
        )

    return report_site


def _resources(tmp_path: Path) -> dict:
    return {
        "icw_settings": IcwSettings.of(Settings.from_env()),
        "duckdb": DuckDBResource(database=str(tmp_path / "warehouse.duckdb")),
    }


@pytest.fixture
def email_env(smtp_server, recipients_file, tmp_path, monkeypatch):
    inbox, port = smtp_server
    monkeypatch.setenv("ICW_HOME", str(tmp_path))
    monkeypatch.setenv("ICW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ICW_SMTP_PORT", str(port))
    monkeypatch.setenv("ICW_REPORT_RECIPIENTS_FILE", str(recipients_file))
    monkeypatch.delenv("ICW_REPORT_RECIPIENTS", raising=False)
    monkeypatch.setattr(delivery, "RETRY_WAITS_SECONDS", (0.0, 0.0))
    return inbox


def test_the_step_sends_everyone_records_each_outcome_then_fails(email_env, pdfs, tmp_path):
    pack, cards = pdfs
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [_report_of_this_run(pack, cards), report_emailed], instance=instance,
            resources=_resources(tmp_path), raise_on_error=False,
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith("2 of 6 recipients were not sent their PDF")
    assert GONE in description and "icw-scorecard-WM03" in description
    [emailed] = [e for e in result.get_asset_materialization_events()
                 if e.asset_key == DELIVERY_KEY]
    metadata = emailed.materialization.metadata
    assert (metadata["sent"].value, metadata["failed"].value) == (4, 2)
    assert len(email_env.received()) == 4
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select recipient, file_name, status, attempts from audit.report_deliveries "
            "where run_id = ? order by recipient", [result.run_id]).fetchall()
    assert (LATER, f"icw-pack-{MONTH}.pdf", "SENT", 2) in rows
    assert (GONE, f"icw-scorecard-WM01-{MONTH}.pdf", "FAILED", 1) in rows
    assert len(rows) == 6


def test_nothing_is_sent_when_the_report_step_failed(email_env, pdfs, tmp_path):
    pack, cards = pdfs
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [_report_of_this_run(pack, cards, fail=True), report_emailed], instance=instance,
            resources=_resources(tmp_path), raise_on_error=False,
        )
    assert not result.success
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert started == {"report__site"}  # the email step never ran
    assert email_env.messages == []


def test_an_earlier_runs_report_is_never_sent(email_env, pdfs, tmp_path):
    pack, cards = pdfs
    with dg.DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=REPORT_KEY,
                metadata={"pack": dg.MetadataValue.path(str(pack)), "reporting_month": MONTH},
            )
        )
        result = dg.materialize([report_emailed], instance=instance,
                                resources=_resources(tmp_path), raise_on_error=False)
    assert not result.success
    assert email_env.messages == []


def test_with_no_server_every_recipient_is_recorded_as_not_sent(
    recipients_file, pdfs, tmp_path, monkeypatch
):
    pack, cards = pdfs
    monkeypatch.setenv("ICW_HOME", str(tmp_path))
    monkeypatch.setenv("ICW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ICW_SMTP_PORT", str(_free_port()))  # nothing listens
    monkeypatch.setenv("ICW_REPORT_RECIPIENTS_FILE", str(recipients_file))
    monkeypatch.delenv("ICW_REPORT_RECIPIENTS", raising=False)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [_report_of_this_run(pack, cards), report_emailed], instance=instance,
            resources=_resources(tmp_path), raise_on_error=False,
        )
    assert not result.success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        statuses = con.execute(
            "select status, count(*) from audit.report_deliveries group by 1").fetchall()
    assert statuses == [("FAILED", 6)]
