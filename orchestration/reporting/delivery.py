"""Email each recipient the month's PDF that is theirs, over SMTP (ICW_SMTP_* settings).

Who gets what is the seed `seeds/report_recipients.csv`, or the CSV that
ICW_REPORT_RECIPIENTS_FILE names (same columns, kept out of git because real addresses are
personal data): a `DIVISION` row is sent the division pack, an `LDU` row its LDU's scorecard
only. ICW_REPORT_RECIPIENTS, when set, adds addresses to the division pack's list.

One message per recipient, over one SMTP connection (reconnected when it drops). A recipient
the server refuses for now (4xx) is tried again, after RETRY_WAITS_SECONDS; one refused for
good (5xx) is not. Every recipient is tried whatever happened to the others; the caller records
each outcome and fails afterwards if any failed.

Plain smtplib: TLS from the start on port 465, STARTTLS whenever the server offers it, and a
login only when ICW_SMTP_USER is set. A password is never sent in clear to another machine: a
server that offers no TLS gets the password only on the loopback interface (a local relay).
"""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from orchestration.core.settings import REPO_ROOT, Settings

SMTP_TIMEOUT_SECONDS = 60
#: waits before the second and third attempt at a recipient refused for now (4xx)
RETRY_WAITS_SECONDS: tuple[float, ...] = (2.0, 10.0)
SEED_RECIPIENTS = REPO_ROOT / "seeds" / "report_recipients.csv"
RECIPIENT_COLUMNS = ("pack", "ldu_code", "email", "name")
PACKS = ("DIVISION", "LDU")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class DeliveryError(RuntimeError):
    """Nothing could be sent; the message says what, through which server, and why."""


@dataclass(frozen=True)
class Recipient:
    """One row of the recipients file."""

    pack: str  # DIVISION or LDU
    ldu_code: str | None
    email: str
    name: str = ""


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient's message."""

    email: str
    pack: str
    ldu_code: str | None
    file_name: str
    status: str  # SENT or FAILED
    attempts: int
    error: str = ""


def is_configured(settings: Settings) -> bool:
    """True when a mail server is set (ICW_SMTP_HOST); recipients default to the seed."""
    return bool(settings.smtp_host)


def recipients_file(settings: Settings) -> Path:
    """ICW_REPORT_RECIPIENTS_FILE when set, else the seed."""
    return settings.report_recipients_file or SEED_RECIPIENTS


def load_recipients(settings: Settings) -> list[Recipient]:
    """Read the recipients file, plus ICW_REPORT_RECIPIENTS as division pack recipients.

    Raises DeliveryError naming the file and line of a row it cannot use.
    """
    path = recipients_file(settings)
    if not path.is_file():
        raise DeliveryError(
            f"the recipients file {path} does not exist: correct ICW_REPORT_RECIPIENTS_FILE"
        )
    found: list[Recipient] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(RECIPIENT_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise DeliveryError(
                f"{path} lacks the column(s) {', '.join(sorted(missing))}: its header must be "
                f"{','.join(RECIPIENT_COLUMNS)}"
            )
        for line, row in enumerate(reader, start=2):
            pack = (row["pack"] or "").strip().upper()
            code = (row["ldu_code"] or "").strip() or None
            address = (row["email"] or "").strip()
            if pack not in PACKS or (pack == "LDU") != (code is not None):
                raise DeliveryError(
                    f"{path}, line {line}: pack must be DIVISION (ldu_code empty) or LDU (with "
                    f"an ldu_code), not {row['pack']!r} with ldu_code {row['ldu_code']!r}"
                )
            if not _EMAIL.fullmatch(address):
                raise DeliveryError(f"{path}, line {line}: {address!r} is not an email address")
            found.append(Recipient(pack, code, address, (row["name"] or "").strip()))
    found += [Recipient("DIVISION", None, a) for a in settings.report_recipients]
    return list(dict.fromkeys(found))


def _is_loopback(host: str) -> bool:
    try:
        return all(
            ipaddress.ip_address(info[4][0]).is_loopback
            for info in socket.getaddrinfo(host, None)
        )
    except (OSError, ValueError):
        return False


class SmtpConnection:
    """One logged-in SMTP session, opened when first needed and again after it drops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.where = f"{settings.smtp_host}:{settings.smtp_port}"
        self._server: smtplib.SMTP | None = None

    def get(self) -> smtplib.SMTP:
        """The open session (connecting, with TLS and login, when there is none)."""
        if self._server is None:
            self._server = self._open()
        return self._server

    def reset(self) -> None:
        """Forget a session that failed; the next get() connects again."""
        server, self._server = self._server, None
        if server is not None:
            try:
                server.close()
            except OSError:
                pass

    def close(self) -> None:
        """Say goodbye to the server."""
        server, self._server = self._server, None
        if server is not None:
            try:
                server.quit()
            except (smtplib.SMTPException, OSError):
                server.close()

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        host, port = settings.smtp_host or "", settings.smtp_port
        context = ssl.create_default_context()
        if port == 465:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            server = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            server.ehlo()
            encrypted = port == 465
            if not encrypted and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
                encrypted = True
            if settings.smtp_user:
                if not encrypted and not _is_loopback(host):
                    raise DeliveryError(
                        f"{self.where} offers no TLS, so ICW will not send it the password of "
                        f"{settings.smtp_user}: use port 465 or a server with STARTTLS"
                    )
                server.login(settings.smtp_user, settings.smtp_password or "")
        except BaseException:
            server.close()
            raise
        return server


def message_for(
    settings: Settings, recipient: Recipient, pdf_path: Path, month_title: str, as_at: str | None
) -> EmailMessage:
    """One recipient's email: a short note naming the month and as-at date, their PDF attached."""
    what = (
        "division pack"
        if recipient.pack == "DIVISION"
        else f"scorecard for {recipient.ldu_code}"
    )
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = recipient.email
    message["Subject"] = f"ICW monthly report: {month_title} ({what})"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=settings.smtp_sender.rpartition("@")[2] or None)
    greeting = f"Dear {recipient.name},\n\n" if recipient.name else ""
    message.set_content(
        f"{greeting}The Intervention Consistency Warehouse {what} for {month_title} is attached "
        f"({pdf_path.name}).\n\n"
        f"Data as at {as_at or 'the latest delivery'}. Figures broken down by gender, ethnicity "
        "or age are disclosure-controlled ([c]) and the PDF is safe to forward within the "
        "organisation.\n\nThis message was sent automatically by ICW.\n"
    )
    message.add_attachment(
        pdf_path.read_bytes(), maintype="application", subtype="pdf", filename=pdf_path.name
    )
    return message


def pack_name(month: str) -> str:
    """The division pack's file name for a reporting month (`YYYY-MM`)."""
    return f"icw-pack-{month}.pdf"


def scorecard_name(ldu_code: str, month: str) -> str:
    """An LDU's scorecard's file name for a reporting month."""
    return f"icw-scorecard-{ldu_code}-{month}.pdf"


def plan(
    recipients: Iterable[Recipient],
    month: str,
    pack: Path | None,
    scorecards: Mapping[str, Path],
) -> list[tuple[Recipient, Path | None]]:
    """Each recipient with the one file that is theirs, None when the run made no such file.

    A file is a recipient's only when its name is the month's name for their pack (and LDU),
    so a mislabelled file is never sent to the wrong person.
    """
    planned: list[tuple[Recipient, Path | None]] = []
    for r in recipients:
        if r.pack == "DIVISION":
            path, expected = pack, pack_name(month)
        else:
            code = r.ldu_code or ""
            path, expected = scorecards.get(code), scorecard_name(code, month)
        planned.append((r, path if path is not None and path.name == expected else None))
    return planned


def send_one(
    connection: SmtpConnection,
    message: EmailMessage,
    recipient: Recipient,
    file_name: str,
    waits: tuple[float, ...],
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Send one message to one recipient, trying again after a 4xx or a dropped connection."""
    attempts = len(waits) + 1
    for attempt in range(1, attempts + 1):
        try:
            refused = connection.get().send_message(message, to_addrs=[recipient.email])
            if not refused:
                return Outcome(
                    recipient.email, recipient.pack, recipient.ldu_code, file_name, "SENT",
                    attempt,
                )
            code, text = next(iter(refused.values()))
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
        except smtplib.SMTPResponseException as exc:
            code, text = exc.smtp_code, exc.smtp_error
            if code in (421, 454):  # the server is closing the session
                connection.reset()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            code, text = 421, str(exc)
            connection.reset()
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if not 400 <= code < 500 or attempt == attempts:
            return Outcome(
                recipient.email, recipient.pack, recipient.ldu_code, file_name, "FAILED",
                attempt, f"{code} {text}",
            )
        sleep(waits[attempt - 1])
    raise AssertionError("unreachable")  # pragma: no cover


def deliver(
    settings: Settings,
    recipients: Iterable[Recipient],
    month: str,
    pack: Path | None,
    scorecards: Mapping[str, Path],
    as_at: str | None = None,
    log: Callable[[str], None] = lambda _: None,
    waits: tuple[float, ...] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Send every recipient their file; return one Outcome each, in the recipients' order.

    A recipient whose file is missing, or whom the server refuses, is a FAILED outcome and the
    others are still sent. Raises DeliveryError only when no message can be sent at all (no
    server, a refused login), before anything was sent.
    """
    waits = RETRY_WAITS_SECONDS if waits is None else waits
    connection = SmtpConnection(settings)
    try:
        connection.get()
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"could not email the report through {connection.where}: {exc}"
        ) from exc
    outcomes: list[Outcome] = []
    try:
        for recipient, path in plan(recipients, month, pack, scorecards):
            if path is None or not path.is_file():
                expected = (
                    pack_name(month)
                    if recipient.pack == "DIVISION"
                    else scorecard_name(recipient.ldu_code or "", month)
                )
                outcome = Outcome(
                    recipient.email, recipient.pack, recipient.ldu_code, expected, "FAILED", 0,
                    f"this run made no {expected}" + (f" ({path} is missing)" if path else ""),
                )
            else:
                message = message_for(settings, recipient, path, month_title(month), as_at)
                outcome = send_one(connection, message, recipient, path.name, waits, sleep)
            log(
                f"{outcome.status.lower()} {outcome.file_name or '-'} to {outcome.email}"
                + (f" after {outcome.attempts} attempt(s)" if outcome.attempts > 1 else "")
                + (f": {outcome.error}" if outcome.error else "")
            )
            outcomes.append(outcome)
    finally:
        connection.close()
    return outcomes


def none_sent(recipients: Iterable[Recipient], month: str, error: str) -> list[Outcome]:
    """A FAILED outcome for every recipient, when nothing could be sent (no server, no login)."""
    return [
        Outcome(
            r.email, r.pack, r.ldu_code,
            pack_name(month) if r.pack == "DIVISION" else scorecard_name(r.ldu_code or "", month),
            "FAILED", 0, error,
        )
        for r in recipients
    ]


def month_title(label: str) -> str:
    """`2025-09` -> `September 2025` (the label as it is when it is not a month)."""
    try:
        return dt.datetime.strptime(label, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return label


def record(con, run_id: str, reporting_month: str, outcomes: Iterable[Outcome]) -> None:
    """Append the outcomes to audit.report_deliveries (created when it is not there)."""
    con.execute("create schema if not exists audit")
    con.execute(
        """
        create table if not exists audit.report_deliveries (
            run_id varchar not null,
            reporting_month varchar,
            recipient varchar not null,
            pack varchar not null,
            ldu_code varchar,
            file_name varchar,
            status varchar not null,
            attempts integer not null,
            error varchar,
            recorded_at timestamp not null
        )
        """
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        (run_id, reporting_month, o.email, o.pack, o.ldu_code, o.file_name, o.status,
         o.attempts, o.error or None, now)
        for o in outcomes
    ]
    if rows:
        con.executemany(
            "insert into audit.report_deliveries values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
