"""The worker's SMTP sender against a real SMTP server (aiosmtpd): sessions reused across
messages, bounded, replaced when the server ended them, never reused after an error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from taskboard.worker import mail
from tests.fixtures.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def _message(to: str, n: int) -> EmailMessage:
    return mail.build(
        sender="tb@example.test",
        to=to,
        subject=f"m{n}",
        text="t",
        html="<p>h</p>",
        message_id=f"<{n}@example.test>",
        unsubscribe_url="http://tb.test/unsubscribe",
    )


async def test_one_session_carries_message_after_message(smtp: SmtpServer) -> None:
    sender = mail.Sender(smtp.url, size=4)
    for n in range(5):
        await sender.send(_message("ada@example.com", n))
    await sender.close()
    assert [m["Subject"] for m in smtp.inbox.to("ada@example.com")] == [f"m{n}" for n in range(5)]
    assert len(set(smtp.inbox.peers)) == 1


async def test_concurrent_sends_open_at_most_size_sessions(smtp: SmtpServer) -> None:
    sender = mail.Sender(smtp.url, size=2)
    await asyncio.gather(*(sender.send(_message("ada@example.com", n)) for n in range(12)))
    await sender.close()
    assert len(smtp.inbox.to("ada@example.com")) == 12
    assert 1 <= len(set(smtp.inbox.peers)) <= 2


async def test_a_session_the_server_ended_is_replaced_without_a_failure(smtp: SmtpServer) -> None:
    sender = mail.Sender(smtp.url, size=1)
    await sender.send(_message("ada@example.com", 1))
    smtp.restart()  # every open session is gone
    await sender.send(_message("ada@example.com", 2))
    await sender.close()
    assert [m["Subject"] for m in smtp.inbox.to("ada@example.com")] == ["m1", "m2"]


async def test_a_refusal_is_reported_and_its_session_not_reused(smtp: SmtpServer) -> None:
    sender = mail.Sender(smtp.url, size=1)
    smtp.inbox.refuse["ada@example.com"] = (1, "550 5.1.1 no such user")
    with pytest.raises(mail.PermanentFailure, match="550"):
        await sender.send(_message("ada@example.com", 1))
    smtp.inbox.refuse["ada@example.com"] = (1, "451 4.3.0 try later")
    with pytest.raises(mail.TransientFailure, match="451"):
        await sender.send(_message("ada@example.com", 2))
    await sender.send(_message("ada@example.com", 3))
    await sender.close()
    assert [m["Subject"] for m in smtp.inbox.to("ada@example.com")] == ["m3"]
    assert len(set(smtp.inbox.peers)) == 3  # a fresh session after each error


async def test_an_unsupported_scheme_is_a_permanent_failure() -> None:
    sender = mail.Sender("http://127.0.0.1:25", size=1)
    with pytest.raises(mail.PermanentFailure, match="scheme"):
        await sender.send(_message("ada@example.com", 1))
