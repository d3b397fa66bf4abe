"""Sending e-mail over SMTP (aiosmtplib: a blocking client would stall every async actor of
the process). TASKBOARD_SMTP_URL: `smtp://` (STARTTLS when the server offers it) or
`smtps://` (TLS from the start), credentials in the URL (or the URL in a secret file).

Sessions are kept open and reused: connecting, EHLO, STARTTLS and login cost more than the
message itself, and a burst of reminders is thousands of messages to one relay."""

from __future__ import annotations

import asyncio
import time
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


class Sender:
    """At most `size` SMTP sessions to the server of `url`, each reused for later messages
    and closed after `idle_seconds` unused. A session the server closed meanwhile is replaced
    once, transparently; a session that saw any error is never reused."""

    def __init__(
        self, url: str, *, size: int, idle_seconds: float = 30, timeout: float = 30
    ) -> None:
        parts = urlsplit(url)
        self._scheme = parts.scheme
        self._implicit_tls = parts.scheme == "smtps"
        self._options = {
            "hostname": parts.hostname or "localhost",
            "port": parts.port or (465 if self._implicit_tls else 25),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "use_tls": self._implicit_tls,
            "start_tls": None if not self._implicit_tls else False,  # None: when offered
            "timeout": timeout,
        }
        self._idle_seconds = idle_seconds
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._slots = asyncio.Semaphore(size)

    async def send(self, message: EmailMessage) -> None:
        if self._scheme not in ("smtp", "smtps"):
            raise PermanentFailure(f"unsupported SMTP URL scheme {self._scheme!r}")
        async with self._slots:
            try:
                await self._send(message)
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

    async def _send(self, message: EmailMessage) -> None:
        client = self._reuse()
        if client is not None:
            try:
                await client.send_message(message)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                client.close()  # the server ended the idle session: one fresh try below
            except BaseException:
                client.close()
                raise
            else:
                self._idle.append((client, time.monotonic()))
                return
        client = aiosmtplib.SMTP(**self._options)  # type: ignore[arg-type]
        try:
            await client.connect()
            await client.send_message(message)
        except BaseException:
            client.close()
            raise
        self._idle.append((client, time.monotonic()))

    def _reuse(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and now - since < self._idle_seconds:
                return client
            client.close()
        return None

    def prune(self) -> None:
        """Close the sessions unused for longer than the idle time."""
        now = time.monotonic()
        keep = []
        for client, since in self._idle:
            if client.is_connected and now - since < self._idle_seconds:
                keep.append((client, since))
            else:
                client.close()
        self._idle = keep

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
