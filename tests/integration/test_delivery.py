"""The monthly PDF is emailed through a real SMTP server (aiosmtpd on 127.0.0.1), not a mock."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from orchestration.core.settings import Settings
from orchestration.reporting.delivery import DeliveryError, is_configured, send_report

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

PDF_BYTES = b"%PDF-1.7\n% a small stand-in for the pack\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


class Inbox:
    """An aiosmtpd handler that keeps what it is sent, and refuses some recipients."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


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
    yield from _serve(Inbox(refuse=("nobody@example.org",)))


@pytest.fixture
def smtp_server_with_login() -> Iterator[tuple[Inbox, int]]:
    yield from _serve(
        Inbox(),
        authenticator=_authenticate,
        auth_required=True,
        auth_require_tls=False,  # a local relay without TLS, as the loopback rule allows
    )


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "icw-report-2025-09.pdf"
    path.write_bytes(PDF_BYTES)
    return path


def _settings(port: int, recipients: str, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "ICW_HOME": "/tmp/icw-delivery-test",
            "ICW_SMTP_HOST": "127.0.0.1",
            "ICW_SMTP_PORT": str(port),
            "ICW_SMTP_SENDER": "icw@probation.example",
            "ICW_REPORT_RECIPIENTS": recipients,
            **extra,
        }
    )


def test_the_pdf_reaches_every_recipient_as_an_attachment(smtp_server, pdf):
    inbox, port = smtp_server
    settings = _settings(port, "head.of.service@example.org, analyst@example.org")

    sent = send_report(settings, pdf, "September 2025", "2025-10-03")

    assert sent.recipients == ("head.of.service@example.org", "analyst@example.org")
    [(sender, recipients, message)] = inbox.messages
    assert sender == "icw@probation.example"
    assert recipients == ["head.of.service@example.org", "analyst@example.org"]
    assert message["Subject"] == "ICW monthly report: September 2025"
    assert message["Message-ID"] == sent.message_id
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "icw-report-2025-09.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF_BYTES
    assert "2025-10-03" in message.get_body(("plain",)).get_content()


def test_a_login_is_used_when_credentials_are_set(smtp_server_with_login, pdf):
    inbox, port = smtp_server_with_login
    settings = _settings(
        port, "head.of.service@example.org", ICW_SMTP_USER="reports", ICW_SMTP_PASSWORD="s3cret"
    )

    send_report(settings, pdf, "September 2025")

    assert len(inbox.messages) == 1


def test_a_wrong_password_fails_naming_the_server(smtp_server_with_login, pdf):
    inbox, port = smtp_server_with_login
    settings = _settings(
        port, "head.of.service@example.org", ICW_SMTP_USER="reports", ICW_SMTP_PASSWORD="wrong"
    )

    with pytest.raises(DeliveryError, match=rf"through 127\.0\.0\.1:{port}"):
        send_report(settings, pdf, "September 2025")
    assert inbox.messages == []


def test_without_credentials_a_server_that_requires_login_refuses(smtp_server_with_login, pdf):
    inbox, port = smtp_server_with_login
    with pytest.raises(DeliveryError, match="could not email icw-report-2025-09.pdf"):
        send_report(_settings(port, "head.of.service@example.org"), pdf, "September 2025")
    assert inbox.messages == []


def test_a_refused_recipient_is_reported(smtp_server, pdf):
    inbox, port = smtp_server
    settings = _settings(port, "head.of.service@example.org, nobody@example.org")

    with pytest.raises(DeliveryError, match="refused nobody@example.org"):
        send_report(settings, pdf, "September 2025")
    [(_, recipients, _)] = inbox.messages
    assert recipients == ["head.of.service@example.org"]


def test_no_server_listening_is_a_clear_error(pdf):
    settings = _settings(_free_port(), "head.of.service@example.org")
    with pytest.raises(DeliveryError, match="could not email .* through 127.0.0.1"):
        send_report(settings, pdf, "September 2025")


def test_delivery_needs_both_a_server_and_recipients():
    assert not is_configured(Settings.from_env({"ICW_HOME": "/tmp/x"}))
    assert not is_configured(Settings.from_env({"ICW_HOME": "/tmp/x", "ICW_SMTP_HOST": "mail"}))
    assert is_configured(
        Settings.from_env(
            {"ICW_HOME": "/tmp/x", "ICW_SMTP_HOST": "mail", "ICW_REPORT_RECIPIENTS": "a@b.org"}
        )
    )
