"""Sending one e-mail over SMTP (aiosmtplib: a blocking client would stall every async actor
of the process). TASKBOARD_SMTP_URL: `smtp://` (STARTTLS when the server offers it) or
`smtps://` (TLS from the start), credentials in the URL (or the URL in a secret file)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import aiosmtplib


class TransientFailure(Exception):
    """Worth retrying: the server said 4xx, or could not be reached."""


class PermanentFailure(Exception):
    """Not worth retrying: the server refused with 5xx."""


def build(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    unsubscribe_url: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    # RFC 8058 one-click unsubscribe (mail clients POST to the https URL).
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


async def send(url: str, message: EmailMessage, *, smtp_timeout: float = 30) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise PermanentFailure(f"unsupported SMTP URL scheme {parts.scheme!r}")
    implicit_tls = parts.scheme == "smtps"
    try:
        await aiosmtplib.send(
            message,
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls,
            start_tls=None if not implicit_tls else False,  # None: STARTTLS when offered
            timeout=smtp_timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [refused.code for refused in exc.recipients]
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure(f"recipient refused: {codes}") from exc
        raise TransientFailure(f"recipient refused: {codes}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if 400 <= exc.code < 500:
            raise TransientFailure(f"{exc.code} {exc.message}") from exc
        raise PermanentFailure(f"{exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TransientFailure(repr(exc)) from exc
