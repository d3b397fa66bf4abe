"""Dead letters: e-mails that failed for good, listed and sent again by a site admin."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from taskboard.core.db import utcnow
from taskboard.core.runtime import Resources
from taskboard.notifications.models import EmailOutbox, Notification
from taskboard.users.models import User as UserRow
from tests.api.problems import assert_problem
from tests.helpers import ApiClient

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


async def test_a_site_admin_lists_and_replays_dead_letters(
    api: ApiClient, resources: Resources
) -> None:
    admin, ada = await api.user("admin"), await api.user("ada")
    board = await api.board(ada)
    async with resources.sessionmaker() as session, session.begin():
        await session.execute(
            update(UserRow).where(UserRow.id == uuid.UUID(admin.id)).values(site_role="admin")
        )
    admin = await api.login(admin)  # a token carrying the new role
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


async def test_dead_letters_are_for_site_admins_only(api: ApiClient, resources: Resources) -> None:
    ada = await api.user("ada")
    board = await api.board(ada)
    letter = await _dead_email(resources, ada.id, board["id"])
    assert_problem(await api.request("GET", URL, headers=ada.headers), 403)
    assert_problem(await api.request("POST", f"{URL}/{letter}/replay", headers=ada.headers), 403)
