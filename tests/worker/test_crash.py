"""Reminders survive the worker: a worker killed mid-burst loses none (another takes over), one
stopped by SIGTERM mid-burst (a rollout) loses and repeats none, and reminders that fall due
while no worker runs go out, late, when one starts."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx

from tests.helpers import eventually
from tests.realtime.cluster import Account, account, board_with
from tests.worker.conftest import Deployment

API = "/api/v1"
THREADS = 4  # TASKBOARD_WORKER_THREADS, the default


async def _ada_and_board(
    http: httpx.AsyncClient, deployment: Deployment
) -> tuple[Account, Account, str]:
    base = deployment.api.http
    owner = await account(http, deployment.api, "Owner")
    ada = await account(http, deployment.api, "Ada")
    # Only the overdue notice, and only it by e-mail: one e-mail per task.
    prefs = await http.patch(
        f"{base}{API}/notifications/preferences",
        json={"reminder_offsets_minutes": [], "email": ["overdue"]},
        headers=ada.headers,
    )
    assert prefs.status_code == 200, prefs.text
    board_id = await board_with(http, deployment.api, owner, ada, name="Due")
    return owner, ada, board_id


async def _tasks(
    http: httpx.AsyncClient,
    deployment: Deployment,
    owner: Account,
    ada: Account,
    board_id: str,
    count: int,
    due: datetime,
) -> list[str]:
    ids: list[str] = []
    url = f"{deployment.api.http}{API}/boards/{board_id}/tasks"
    for n in range(count):
        made = await http.post(
            url,
            json={"title": f"T{n}", "assignee_ids": [ada.id], "due_at": due.isoformat()},
            headers=owner.headers,
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return ids


async def _mail(
    deployment: Deployment, address: str, count: int, timeout: float
) -> list[EmailMessage]:
    async def inbox() -> list[EmailMessage]:
        return deployment.smtp.inbox.to(address)

    return await eventually(
        inbox,
        lambda messages: len({m["Message-ID"] for m in messages}) >= count,
        timeout=timeout,
        every=0.2,
    )


async def _overdue(
    http: httpx.AsyncClient, deployment: Deployment, ada: Account
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = await http.get(
            f"{deployment.api.http}{API}/notifications", params=params, headers=ada.headers
        )
        found += [n for n in page.json()["items"] if n["kind"] == "overdue"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


async def test_a_worker_killed_mid_burst_loses_no_reminder(deployment: Deployment) -> None:
    first, second = deployment.start_worker("w-1"), deployment.start_worker("w-2")
    async with httpx.AsyncClient(timeout=30) as http:
        owner, ada, board_id = await _ada_and_board(http, deployment)
        due = datetime.now(UTC) + timedelta(seconds=40)
        tasks = await _tasks(http, deployment, owner, ada, board_id, 500, due)
        # Kill one worker while the burst is being sent.
        await _mail(deployment, ada.email, 40, timeout=120)
        first.kill()
        at_kill = len(deployment.smtp.inbox.to(ada.email))
        # The kill must land mid-burst, or this test proves nothing.
        assert at_kill < len(tasks), at_kill
        messages = await _mail(deployment, ada.email, len(tasks), timeout=240)
        ids = [m["Message-ID"] for m in messages]
        assert len(set(ids)) == len(tasks)
        # SMTP cannot be exactly-once: a send the server accepted just before the kill, not
        # yet recorded, goes again, with the same Message-ID (receivers drop it). At most one
        # per thread of the killed worker.
        assert len(ids) - len(set(ids)) <= THREADS
        overdue = await _overdue(http, deployment, ada)
        assert sorted(n["task_id"] for n in overdue) == sorted(tasks)
    second.terminate()


async def test_reminders_due_while_no_worker_ran_go_out_late_when_one_starts(
    deployment: Deployment,
) -> None:
    for pod in deployment.workers:
        if pod.process.poll() is None:
            pod.terminate()
    async with httpx.AsyncClient(timeout=30) as http:
        owner, ada, board_id = await _ada_and_board(http, deployment)
        due = datetime.now(UTC) + timedelta(seconds=2)
        tasks = await _tasks(http, deployment, owner, ada, board_id, 20, due)
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 3)
        deployment.start_worker("w-3")
        messages = await _mail(deployment, ada.email, len(tasks), timeout=120)
        assert len(messages) == len(tasks)
        overdue = await _overdue(http, deployment, ada)
        assert sorted(n["task_id"] for n in overdue) == sorted(tasks)
        assert all(n["data"]["late"] is True for n in overdue)


async def test_a_worker_stopped_mid_burst_hands_over_without_losing_or_repeating(
    deployment: Deployment,
) -> None:
    """A rollout's SIGTERM, not a crash: the stopping worker finishes what it started (within
    TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS, under the pod's grace) and exits cleanly; the
    other takes the rest. Unlike a kill, nothing is sent twice."""
    for pod in deployment.workers:
        if pod.process.poll() is None:
            pod.terminate()
    first, second = deployment.start_worker("w-4"), deployment.start_worker("w-5")
    async with httpx.AsyncClient(timeout=30) as http:
        owner, ada, board_id = await _ada_and_board(http, deployment)
        due = datetime.now(UTC) + timedelta(seconds=30)
        tasks = await _tasks(http, deployment, owner, ada, board_id, 500, due)
        await _mail(deployment, ada.email, 40, timeout=120)
        first.process.send_signal(signal.SIGTERM)
        at_stop = len(deployment.smtp.inbox.to(ada.email))
        assert at_stop < len(tasks), at_stop  # stopped mid-burst, or this proves nothing
        assert await asyncio.to_thread(first.process.wait, 60) == 0
        messages = await _mail(deployment, ada.email, len(tasks), timeout=240)
        ids = [m["Message-ID"] for m in messages]
        assert len(ids) == len(set(ids)) == len(tasks)
        overdue = await _overdue(http, deployment, ada)
        assert sorted(n["task_id"] for n in overdue) == sorted(tasks)
    second.terminate()
