"""Dead letters: e-mails that failed for good, listed and sent again by a site admin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from taskboard.core.db import utcnow
from taskboard.core.runtime import Resources
from taskboard.notifications.models import EmailOutbox, Notification
from taskboard.users.models import User as UserRow
from taskboard.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.api.problems import assert_problem
from tests.helpers import ApiClient, User

URL = "/api/v1/admin/dead-letters"


async def _dead_email(resources: Resources, user_id: str, board_id: str) -> uuid.UUID:
    async with resources.sessionmaker() as session, session.begin():
        notification = Notification(
            id=uuid.uuid4(),
            user_id=uuid.UUID(user_id),
            board_id=uuid.UUID(board_id),
            kind="assigned",
            cause=f"test:{uuid.uuid4()}",
            data={},
            created_at=utcnow(),
        )
        session.add(notification)
        await session.flush()
        row = EmailOutbox(
            id=uuid.uuid4(),
            notification_id=notification.id,
            user_id=uuid.UUID(user_id),
            to_address="ada@example.com",
            subject="Hello",
            text_body="t",
            html_body="h",
            message_id="<x@example.com>",
            state="dead",
            attempts=9,
            last_error="550 5.1.1 no such user",
            created_at=utcnow(),
        )
        session.add(row)
    return row.id


async def _site_admin(api: ApiClient, resources: Resources) -> User:
    """A new account made a site admin, signed in again for a token carrying the role."""
    user = await api.user("admin")
    async with resources.sessionmaker() as session, session.begin():
        await session.execute(
            update(UserRow).where(UserRow.id == uuid.UUID(user.id)).values(site_role="admin")
        )
    return await api.login(user)


async def test_a_site_admin_lists_and_replays_dead_letters(
    api: ApiClient, resources: Resources
) -> None:
    admin, ada = await _site_admin(api, resources), await api.user("ada")
    board = await api.board(ada)
    letter = await _dead_email(resources, ada.id, board["id"])

    listed = await api.request("GET", URL, headers=admin.headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["id"], item["kind"], item["attempts"]) == (str(letter), "email", 9)
    assert item["last_error"] == "550 5.1.1 no such user"

    replayed = await api.request("POST", f"{URL}/{letter}/replay", headers=admin.headers)
    assert replayed.status_code == 200, replayed.text
    async with resources.sessionmaker() as session:
        row = await session.scalar(select(EmailOutbox).where(EmailOutbox.id == letter))
    assert row is not None
    assert (row.state, row.attempts) == ("pending", 0)
    assert (await api.request("GET", URL, headers=admin.headers)).json()["items"] == []
    again = await api.request("POST", f"{URL}/{letter}/replay", headers=admin.headers)
    assert_problem(again, 404)


async def _dead_delivery(resources: Resources, user_id: str, board_id: str) -> uuid.UUID:
    """An endpoint whose delivery of seq 7 ran out of retries, its last attempt logged."""
    async with resources.sessionmaker() as session, session.begin():
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            board_id=uuid.UUID(board_id),
            url="https://hooks.example.com/in",
            description="",
            events=[],
            secret="whsec_" + "A" * 32,
            enabled=True,
            created_by=uuid.UUID(user_id),
        )
        session.add(endpoint)
        await session.flush()
        delivery = WebhookDelivery(
            id=uuid.uuid4(),
            endpoint_id=endpoint.id,
            board_id=uuid.UUID(board_id),
            seq=7,
            type="task.created",
            payload={},
            state="dead",
            attempts=8,
            last_status=503,
            last_error=None,
            created_at=utcnow() - timedelta(days=2),
        )
        session.add(delivery)
        await session.flush()
        session.add(
            WebhookAttempt(
                id=uuid.uuid4(), delivery_id=delivery.id, at=LAST_TRY, status_code=503, latency_ms=3
            )
        )
    return delivery.id


LAST_TRY = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def test_webhook_deliveries_out_of_retries_are_dead_letters_too(
    api: ApiClient, resources: Resources
) -> None:
    admin, ada = await _site_admin(api, resources), await api.user("ada")
    board = await api.board(ada)
    delivery = await _dead_delivery(resources, ada.id, board["id"])
    email = await _dead_email(resources, ada.id, board["id"])

    listed = await api.request("GET", URL, headers=admin.headers)
    assert listed.status_code == 200, listed.text
    # Newest first across both kinds: the e-mail died now, the delivery two days ago.
    assert [(i["id"], i["kind"]) for i in listed.json()["items"]] == [
        (str(email), "email"),
        (str(delivery), "webhook"),
    ]
    item = listed.json()["items"][1]
    assert (item["to"], item["subject"], item["attempts"]) == (
        "https://hooks.example.com/in",
        "task.created #7",
        8,
    )
    assert datetime.fromisoformat(item["last_attempt_at"]) == LAST_TRY
    paged = await api.request("GET", URL, params={"limit": 1}, headers=admin.headers)
    [first] = paged.json()["items"]
    rest = await api.request(
        "GET", URL, params={"cursor": paged.json()["next_cursor"]}, headers=admin.headers
    )
    assert [first["id"]] + [i["id"] for i in rest.json()["items"]] == [str(email), str(delivery)]

    replayed = await api.request("POST", f"{URL}/{delivery}/replay", headers=admin.headers)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["kind"] == "webhook"
    async with resources.sessionmaker() as session:
        row = await session.get(WebhookDelivery, delivery)
    assert row is not None
    assert (row.state, row.attempts) == ("pending", 0)
    assert row.next_attempt_at <= utcnow()
    listed = await api.request("GET", URL, headers=admin.headers)
    assert [i["id"] for i in listed.json()["items"]] == [str(email)]


async def test_dead_letters_are_for_site_admins_only(api: ApiClient, resources: Resources) -> None:
    ada = await api.user("ada")
    board = await api.board(ada)
    letter = await _dead_email(resources, ada.id, board["id"])
    assert_problem(await api.request("GET", URL, headers=ada.headers), 403)
    assert_problem(await api.request("POST", f"{URL}/{letter}/replay", headers=ada.headers), 403)
