"""Notifications, end to end through real processes: an api pod writes, the event reaches
the streams, one of two worker pods makes the notification (exactly once), and the user's
socket on a realtime pod gets it without subscribing to anything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.helpers import eventually
from tests.realtime.cluster import Account, WsClient, account, board_with
from tests.realtime.conftest import Cluster

API = "/api/v1"


async def _board(
    http: httpx.AsyncClient, cluster: Cluster, owner: Account, *members: Account
) -> str:
    return await board_with(http, cluster.api1, owner, *members, name="N")


async def _notifications(
    http: httpx.AsyncClient, cluster: Cluster, user: Account, **params: Any
) -> list[dict[str, Any]]:
    response = await http.get(
        f"{cluster.api2.http}{API}/notifications", params=params, headers=user.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _wait_for_notifications(
    http: httpx.AsyncClient, cluster: Cluster, user: Account, count: int, timeout: float = 30
) -> list[dict[str, Any]]:
    """Until `user` has `count` notifications (the worker is asynchronous by design)."""
    return await eventually(
        lambda: _notifications(http, cluster, user),
        lambda items: len(items) >= count,
        timeout=timeout,
    )


async def test_assigning_notifies_the_assignee_in_the_app_and_on_the_socket(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        ada = await account(http, cluster.api1, "Ada")
        board_id = await _board(http, cluster, owner, ada)
        socket = WsClient(cluster.rt2.ws, ada.token)  # no subscription
        await socket.connect()
        task = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "Write the announcement", "assignee_ids": [ada.id]},
            headers=owner.headers,
        )
        assert task.status_code == 201, task.text
        pushed = await socket.wait_for(lambda f: f["type"] == "notification")
        items = await _wait_for_notifications(http, cluster, ada, 1)
        assert [(n["kind"], n["task_id"]) for n in items] == [("assigned", task.json()["id"])]
        assert items[0]["actor_id"] == owner.id
        assert items[0]["data"]["task_title"] == "Write the announcement"
        assert pushed["notification"] == items[0]
        assert socket.undocumented == []
        # The actor is told nothing about their own action.
        assert await _notifications(http, cluster, owner) == []
        await socket.close()


async def test_each_change_notifies_once_with_its_own_kind(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        ada = await account(http, cluster.api1, "Ada")
        board_id = await _board(http, cluster, owner, ada)
        task = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "T", "assignee_ids": [ada.id]},
            headers=owner.headers,
        )
        url = f"{cluster.api1.http}{API}/tasks/{task.json()['id']}"
        moved = await http.post(f"{url}/move", json={"status": "done"}, headers=owner.headers)
        assert moved.status_code == 200, moved.text
        unassigned = await http.patch(url, json={"assignee_ids": []}, headers=owner.headers)
        assert unassigned.status_code == 200, unassigned.text
        items = await _wait_for_notifications(http, cluster, ada, 3)
        assert [n["kind"] for n in items] == ["unassigned", "status_changed", "assigned"]
        assert items[1]["data"]["from_status"] == "todo"
        assert items[1]["data"]["status"] == "done"
        # Two workers share the streams: still one notification per change, however long
        # one waits.
        await asyncio.sleep(1)
        assert len(await _notifications(http, cluster, ada)) == 3


async def test_comments_tell_assignees_repliers_and_mentioned_members_only(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        ada = await account(http, cluster.api1, "Ada Lovelace")
        bob = await account(http, cluster.api1, "Bob")
        stranger = await account(http, cluster.api1, "Stranger")
        board_id = await _board(http, cluster, owner, ada, bob)
        task = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "T", "assignee_ids": [ada.id]},
            headers=owner.headers,
        )
        comments = f"{cluster.api1.http}{API}/tasks/{task.json()['id']}/comments"
        first = await http.post(
            comments,
            json={"body": "Over to @Bob, and @Stranger who is not on the board"},
            headers=owner.headers,
        )
        assert first.status_code == 201, first.text
        reply = await http.post(
            comments,
            json={"body": "On it, @ada lovelace.", "parent_id": first.json()["id"]},
            headers=bob.headers,
        )
        assert reply.status_code == 201, reply.text
        ada_items = await _wait_for_notifications(http, cluster, ada, 3)
        owner_items = await _wait_for_notifications(http, cluster, owner, 1)
        bob_items = await _wait_for_notifications(http, cluster, bob, 1)
        # Ada: assigned, the owner's comment on her task, then Bob's mention of her (a
        # mention outranks "comment on your task": one notification per cause).
        assert [n["kind"] for n in ada_items] == ["mention", "comment", "assigned"]
        assert [n["kind"] for n in bob_items] == ["mention"]
        assert [n["kind"] for n in owner_items] == ["reply"]
        assert owner_items[0]["data"]["excerpt"] == "On it, @ada lovelace."
        assert await _notifications(http, cluster, stranger) == []


async def test_reading_notifications(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        ada = await account(http, cluster.api1, "Ada")
        board_id = await _board(http, cluster, owner, ada)
        for title in ("one", "two", "three"):
            created = await http.post(
                f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
                json={"title": title, "assignee_ids": [ada.id]},
                headers=owner.headers,
            )
            assert created.status_code == 201, created.text
        three, two, one = await _wait_for_notifications(http, cluster, ada, 3)
        base = f"{cluster.api2.http}{API}/notifications"

        async def unread() -> int:
            count = await http.get(f"{base}/unread-count", headers=ada.headers)
            assert count.status_code == 200, count.text
            value: int = count.json()["unread"]
            return value

        assert await unread() == 3
        read = await http.post(f"{base}/{three['id']}/read", headers=ada.headers)
        assert read.status_code == 200, read.text
        assert read.json()["read_at"] is not None
        assert [n["id"] for n in await _notifications(http, cluster, ada, unread="true")] == [
            two["id"],
            one["id"],
        ]
        # Up to a point: "two" and everything older; a newer one would stay unread.
        marked = await http.post(f"{base}/read-all", json={"up_to": two["id"]}, headers=ada.headers)
        assert marked.json() == {"marked": 2}
        assert await unread() == 0
        # Someone else's notification does not exist for you.
        foreign = await http.post(f"{base}/{one['id']}/read", headers=owner.headers)
        assert foreign.status_code == 404
        assert foreign.headers["content-type"].startswith("application/problem+json")
        paged = await http.get(base, params={"limit": 2}, headers=ada.headers)
        assert [n["id"] for n in paged.json()["items"]] == [three["id"], two["id"]]
        rest = await http.get(
            base, params={"limit": 2, "cursor": paged.json()["next_cursor"]}, headers=ada.headers
        )
        assert [n["id"] for n in rest.json()["items"]] == [one["id"]]


async def _wait_for_mail(
    cluster: Cluster, address: str, count: int, timeout: float = 30
) -> list[Any]:
    """Until `address` has `count` messages (or the timeout; the caller asserts)."""

    async def inbox() -> list[Any]:
        return cluster.smtp.inbox.to(address)

    return await eventually(inbox, lambda messages: len(messages) >= count, timeout=timeout)


async def test_a_notification_is_emailed_once_through_a_real_smtp_server(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Grace")
        ada = await account(http, cluster.api1, "Ada")
        board_id = await _board(http, cluster, owner, ada)
        title = "Ship <script>alert(1)</script> & celebrate"
        task = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": title, "assignee_ids": [ada.id]},
            headers=owner.headers,
        )
        assert task.status_code == 201, task.text
        [notification] = await _wait_for_notifications(http, cluster, ada, 1)
        [message] = await _wait_for_mail(cluster, ada.email, 1)
        assert message["Subject"] == f"Grace assigned you: {title}"
        assert message["From"] == "taskboard <tb@example.test>"
        assert message["Message-ID"] == f"<{notification['id']}@example.test>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None
        assert html is not None
        assert f"/boards/{board_id}/tasks/{task.json()['id']}" in text.get_content()
        # User text is escaped in the HTML part, and only there.
        assert "<script>" not in html.get_content()
        assert "&lt;script&gt;" in html.get_content()
        # The owner acted: no mail for them. And the assignee's stays one.
        await asyncio.sleep(1)
        assert len(cluster.smtp.inbox.to(ada.email)) == 1
        assert cluster.smtp.inbox.to(owner.email) == []


async def test_a_refused_email_is_retried_until_accepted_with_the_same_message_id(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        ada = await account(http, cluster.api1, "Ada")
        cluster.smtp.inbox.refuse[ada.email] = (1, "451 4.3.0 Try again later")
        board_id = await _board(http, cluster, owner, ada)
        task = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "Retry me", "assignee_ids": [ada.id]},
            headers=owner.headers,
        )
        assert task.status_code == 201, task.text
        # Dramatiq's backoff starts at 5 s (with jitter): well inside the wait.
        [delivered] = await _wait_for_mail(cluster, ada.email, 1, timeout=60)
        [refused] = [m for m in cluster.smtp.inbox.refused if m["To"] == ada.email]
        assert delivered["Message-ID"] == refused["Message-ID"]
        assert delivered["Subject"] == "Owner assigned you: Retry me"


async def test_a_due_soon_reminder_reaches_the_app_and_the_inbox_in_the_users_time_zone(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        ada = await account(http, cluster.api1, "Ada")
        for path, body in (
            ("/me", {"time_zone": "Asia/Tokyo"}),
            ("/notifications/preferences", {"reminder_offsets_minutes": [5]}),
        ):
            set_up = await http.patch(
                f"{cluster.api2.http}{API}{path}", json=body, headers=ada.headers
            )
            assert set_up.status_code == 200, set_up.text
        board_id = await _board(http, cluster, owner, ada)
        socket = WsClient(cluster.rt1.ws, ada.token)
        await socket.connect()
        # Due in two minutes, reminded five minutes ahead: due soon at once (not late).
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
        task = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "Pay the invoice", "assignee_ids": [ada.id], "due_at": due.isoformat()},
            headers=owner.headers,
        )
        assert task.status_code == 201, task.text
        pushed = await socket.wait_for(
            lambda f: f["type"] == "notification" and f["notification"]["kind"] == "due_soon"
        )
        assert pushed["notification"]["data"]["late"] is False
        assert pushed["notification"]["task_id"] == task.json()["id"]
        # Assigned and due soon, moments apart: one digest e-mail carrying both.
        [digest] = await _wait_for_mail(cluster, ada.email, 1)
        local = due.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%a %d %b %Y %H:%M JST")
        assert digest["Subject"] == "2 new notifications on taskboard"
        text = digest.get_body(("plain",))
        assert text is not None
        assert "Owner assigned you: Pay the invoice" in text.get_content()
        assert f"Due {local}: Pay the invoice" in text.get_content()
        await asyncio.sleep(3)
        assert len(cluster.smtp.inbox.to(ada.email)) == 1
        await socket.close()


async def test_a_notification_read_in_the_app_first_is_not_emailed(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        ada = await account(http, cluster.api1, "Ada")
        board_id = await _board(http, cluster, owner, ada)
        task = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "Seen already", "assignee_ids": [ada.id]},
            headers=owner.headers,
        )
        assert task.status_code == 201, task.text
        [notification] = await _wait_for_notifications(http, cluster, ada, 1)
        read = await http.post(
            f"{cluster.api2.http}{API}/notifications/{notification['id']}/read",
            headers=ada.headers,
        )
        assert read.status_code == 200, read.text
        # Past the digest window (2 s) and then some: nothing was sent.
        await asyncio.sleep(4)
        assert cluster.smtp.inbox.to(ada.email) == []


async def test_the_worker_exposes_its_queues_lag_and_actors(cluster: Cluster) -> None:
    """After the e-mails above: the figures an SRE scales and alerts on."""
    async with httpx.AsyncClient(timeout=30) as http:

        async def metrics() -> str:
            return (await http.get(f"{cluster.worker1.http}/metrics")).text

        text = await eventually(
            metrics, lambda text: 'taskboard_queue_depth{queue="email"}' in text, every=0.5
        )
    for name in (
        'taskboard_queue_depth{queue="email"}',
        'taskboard_queue_depth{queue="webhooks"}',
        "taskboard_notifier_pending{",
        "taskboard_notifier_lag_seconds{",
        "taskboard_notifier_events_total",
        "taskboard_actor_runs_total",
    ):
        assert name in text, name
