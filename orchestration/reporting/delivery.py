"""Email the monthly PDF pack to the report's recipients, over SMTP (ICW_SMTP_* settings).

Plain smtplib: TLS from the start on port 465, STARTTLS whenever the server offers it, and a
login only when ICW_SMTP_USER is set. A password is never sent in clear to another machine: a
server that offers no TLS gets the password only on the loopback interface (a local relay).
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from orchestration.core.settings import Settings

SMTP_TIMEOUT_SECONDS = 60


class DeliveryError(RuntimeError):
    """The report could not be emailed; the message says to whom, through which server, why."""


@dataclass(frozen=True)
class Delivery:
    """What was sent."""

    recipients: tuple[str, ...]
    message_id: str
    pdf_path: Path
    bytes_attached: int


def is_configured(settings: Settings) -> bool:
    """True when a server and a recipient are set (ICW_SMTP_HOST, ICW_REPORT_RECIPIENTS)."""
    return bool(settings.smtp_host and settings.report_recipients)


def report_message(
    settings: Settings, pdf_path: Path, month_title: str, as_at: str | None
) -> EmailMessage:
    """The email: a short note naming the month and the data's as-at date, the PDF attached."""
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = ", ".join(settings.report_recipients)
    message["Subject"] = f"ICW monthly report: {month_title}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=settings.smtp_sender.rpartition("@")[2] or None)
    message.set_content(
        f"The Intervention Consistency Warehouse report for {month_title} is attached "
        f"({pdf_path.name}).\n\n"
        f"Data as at {as_at or 'the latest delivery'}. Figures broken down by gender, ethnicity "
        "or age are disclosure-controlled ([c]) and the pack is safe to forward within the "
        "organisation.\n\nThis message was sent automatically by ICW.\n"
    )
    message.add_attachment(
        pdf_path.read_bytes(), maintype="application", subtype="pdf", filename=pdf_path.name
    )
    return message


def _is_loopback(host: str) -> bool:
    try:
        return all(
            ipaddress.ip_address(info[4][0]).is_loopback
            for info in socket.getaddrinfo(host, None)
        )
    except (OSError, ValueError):
        return False


def send_report(
    settings: Settings, pdf_path: Path, month_title: str, as_at: str | None = None
) -> Delivery:
    """Email `pdf_path` to every recipient; raise DeliveryError if any recipient is refused."""
    if not is_configured(settings):
        raise DeliveryError(
            "email is not configured: set ICW_SMTP_HOST and ICW_REPORT_RECIPIENTS"
        )
    if not pdf_path.is_file():
        raise DeliveryError(f"the PDF to send is missing: {pdf_path}")
    host, port = settings.smtp_host or "", settings.smtp_port
    where = f"{host}:{port}"
    message = report_message(settings, pdf_path, month_title, as_at)
    context = ssl.create_default_context()
    try:
        if port == 465:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            server = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
        with server:
            server.ehlo()
            encrypted = port == 465
            if not encrypted and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
                encrypted = True
            if settings.smtp_user:
                if not encrypted and not _is_loopback(host):
                    raise DeliveryError(
                        f"{where} offers no TLS, so ICW will not send it the password of "
                        f"{settings.smtp_user}: use port 465 or a server with STARTTLS"
                    )
                server.login(settings.smtp_user, settings.smtp_password or "")
            refused = server.send_message(message)
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"could not email {pdf_path.name} to {', '.join(settings.report_recipients)} "
            f"through {where}: {exc}"
        ) from exc
    if refused:
        raise DeliveryError(
            f"{where} refused {', '.join(sorted(refused))}; the others were sent {pdf_path.name}"
        )
    return Delivery(
        recipients=settings.report_recipients,
        message_id=str(message["Message-ID"]),
        pdf_path=pdf_path,
        bytes_attached=pdf_path.stat().st_size,
    )
