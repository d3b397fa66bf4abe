#!/usr/bin/env python3
"""Worker benchmark: notifications, reminders and webhooks through real processes.

Brings the system up itself (embedded PostgreSQL and Redis, `taskboard api`, `taskboard
realtime`, `taskboard worker`), with a real SMTP server (aiosmtpd) and a real HTTP receiver in
a process of their own, then measures:

  notify     writes at R/s, each assigning a task to one of M members, each member with one
             socket open (no subscription): create-request start -> `notification` frame at
             the assignee (same clock, same process), p50/p95/p99
  reminders  N tasks whose overdue reminder falls due at once (one e-mail each):
             e-mails received per second, first to last
  webhooks   W events on a board with one endpoint: deliveries received per second

    .venv/bin/python loadtests/bench_worker.py            # the full run
    .venv/bin/python loadtests/bench_worker.py --quick    # a smoke-sized run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import secrets
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

import httpx
import websockets
from aiosmtpd.controller import Controller

from benchkit.host import machine_summary
from benchkit.stats import percentile
from realtime.system import system
from taskboard.embedded.processes import free_port

API = "/api/v1"
WRITERS = 32  # notify: concurrent create requests at most (one connection each)


class Inbox:
    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.arrivals.append(time.monotonic())
        return "250 OK"


class Hooks:
    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with hooks.lock:
                    hooks.arrivals.append(time.monotonic())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _serve_receivers(conn: Connection) -> None:
    """The SMTP server and the webhook receiver, in a process of their own: receiving 100
    e-mails a second in the load generator's process would take its GIL from the sockets
    whose frames are being timed. Arrival times are CLOCK_MONOTONIC, shared by all processes."""
    inbox, hooks = Inbox(), Hooks()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    conn.send((smtp.port, hooks.server.server_address[1]))
    try:
        while conn.recv() == "arrivals":
            with inbox.lock, hooks.lock:
                conn.send((list(inbox.arrivals), list(hooks.arrivals)))
    finally:
        smtp.stop()
        hooks.server.shutdown()


class Receivers:
    """Handle on the receivers' process: where to send, and what arrived when."""

    def __init__(self) -> None:
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve_receivers, args=(child,), daemon=True
        )
        self._process.start()
        self.smtp_port, hook_port = self._conn.recv()
        self.hook_url = f"http://127.0.0.1:{hook_port}/hook"

    def emails(self) -> list[float]:
        self._conn.send("arrivals")
        emails: list[float] = self._conn.recv()[0]
        return emails

    def hooks(self) -> list[float]:
        self._conn.send("arrivals")
        hooks: list[float] = self._conn.recv()[1]
        return hooks

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)


async def register(http: httpx.AsyncClient, name: str) -> tuple[str, str, str]:
    """(user id, access token, e-mail)"""
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    made = await http.post(
        f"{API}/auth/register",
        json={"email": email, "password": "benchmark-password", "display_name": name},
    )
    made.raise_for_status()
    login = await http.post(
        f"{API}/auth/login", json={"email": email, "password": "benchmark-password"}
    )
    login.raise_for_status()
    return made.json()["id"], login.json()["access_token"], email


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def board_with(http: httpx.AsyncClient, owner: str, members: list[str], name: str) -> str:
    board = await http.post(f"{API}/boards", json={"name": name}, headers=auth(owner))
    board.raise_for_status()
    board_id: str = board.json()["id"]
    for member in members:
        put = await http.put(
            f"{API}/boards/{board_id}/members/{member}",
            json={"role": "member"},
            headers=auth(owner),
        )
        put.raise_for_status()
    return board_id


def ms(values: list[float], pct: float) -> float:
    return round(percentile(values, pct) * 1000, 1)


async def notify(
    http: httpx.AsyncClient, ws_url: str, members: int, rate: float, seconds: float
) -> dict[str, Any]:
    _, owner, _ = await register(http, "owner")
    people = [await register(http, f"m{i}") for i in range(members)]
    board_id = await board_with(http, owner, [p[0] for p in people], "notify")
    sent: dict[str, float] = {}  # task title -> the create's scheduled start
    arrived: dict[str, float] = {}  # task title -> frame arrival, wall clock
    latencies: list[float] = []
    missing = 0

    async def listen(token: str, expected: int, done: asyncio.Event) -> None:
        async with websockets.connect(ws_url) as socket:
            await socket.send(json.dumps({"type": "auth", "token": token}))
            await socket.recv()
            done.set()
            got = 0
            while got < expected:
                frame = json.loads(await socket.recv())
                if frame["type"] == "notification":
                    title = frame["notification"]["data"]["task_title"]
                    latencies.append(time.monotonic() - sent[title])
                    arrived[title] = time.time()
                    got += 1

    total = int(rate * seconds)
    per_member = [total // members + (1 if i < total % members else 0) for i in range(members)]
    ready = [asyncio.Event() for _ in people]
    listeners = [
        asyncio.create_task(listen(p[1], n, r))
        for p, n, r in zip(people, per_member, ready, strict=True)
    ]
    for event in ready:
        await event.wait()
    # An open-loop writer: each create has its scheduled time, and a fixed set of writers with
    # one connection each sends them. (One httpx client with every pending request in its pool
    # spends most of this process's CPU matching requests to connections, quadratic in the
    # backlog, and the figure then measures the load generator, not taskboard.)
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    written: dict[str, float] = {}  # task title -> the event's commit time, wall clock

    async def writer() -> None:
        async with httpx.AsyncClient(base_url=http.base_url, timeout=60) as own:
            while (n := await queue.get()) is not None:
                made = await own.post(
                    f"{API}/boards/{board_id}/tasks",
                    json={"title": f"t{n}", "assignee_ids": [people[n % members][0]]},
                    headers=auth(owner),
                )
                made.raise_for_status()
                task = made.json()
                written[task["title"]] = datetime.fromisoformat(task["created_at"]).timestamp()

    writers = [asyncio.create_task(writer()) for _ in range(WRITERS)]
    start = time.monotonic()
    for n in range(total):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        sent[f"t{n}"] = due
        queue.put_nowait(n)
    for _ in writers:
        queue.put_nowait(None)
    await asyncio.gather(*writers)
    try:
        await asyncio.wait_for(asyncio.gather(*listeners), timeout=60)
    except TimeoutError:
        missing = total - len(latencies)
    # The measure: from the event (the create committed) to the frame, apart from the
    # time the request spent queued at a saturated api before its transaction ran.
    event_to_frame = [arrived[t] - written[t] for t in arrived]
    return {
        "writes_per_s": rate,
        "notifications": len(latencies),
        "missing": missing,
        "p50_ms": ms(latencies, 50),
        "p95_ms": ms(latencies, 95),
        "p99_ms": ms(latencies, 99),
        "event_to_frame_p50_ms": ms(event_to_frame, 50),
        "event_to_frame_p95_ms": ms(event_to_frame, 95),
        "event_to_frame_p99_ms": ms(event_to_frame, 99),
    }


async def create_due_tasks(
    http: httpx.AsyncClient, owner: str, board: str, assignee: str, due: datetime, count: int
) -> None:
    """`count` tasks on `board`, assigned to `assignee` and due at `due`, 8 requests at a time."""
    semaphore = asyncio.Semaphore(8)

    async def create(n: int) -> None:
        async with semaphore:
            made = await http.post(
                f"{API}/boards/{board}/tasks",
                json={"title": f"r{n}", "assignee_ids": [assignee], "due_at": due.isoformat()},
                headers=auth(owner),
            )
            made.raise_for_status()

    await asyncio.gather(*(create(n) for n in range(count)))


async def reminder_board(http: httpx.AsyncClient) -> tuple[str, str, str]:
    """An owner's board with one member, ada, who wants an e-mail when a task is overdue and
    no other reminder: (owner's token, ada's id, the board's id)."""
    _, owner, _ = await register(http, "owner")
    ada, ada_token, _ = await register(http, "ada")
    prefs = await http.patch(
        f"{API}/notifications/preferences",
        json={"reminder_offsets_minutes": [], "email": ["overdue"]},
        headers=auth(ada_token),
    )
    prefs.raise_for_status()
    return owner, ada, await board_with(http, owner, [ada], "reminders")


async def reminders(http: httpx.AsyncClient, receivers: Receivers, count: int) -> dict[str, Any]:
    owner, ada, board_id = await reminder_board(http)
    # Every reminder must fall due after the last task exists (creation runs at some tens a
    # second while the worker plans): a generous lead, checked below.
    due = datetime.now(UTC) + timedelta(seconds=10 + count / 25)
    before = len(receivers.emails())
    await create_due_tasks(http, owner, board_id, ada, due, count)
    created_before_due = datetime.now(UTC) < due
    deadline = time.monotonic() + (due - datetime.now(UTC)).total_seconds() + 300
    while time.monotonic() < deadline:
        got = receivers.emails()[before:]
        if len(got) >= count:
            break
        await asyncio.sleep(0.2)
    span = got[-1] - got[0] if len(got) > 1 else 0.0
    return {
        "reminders": count,
        "all_created_before_due": created_before_due,
        "emails": len(got),
        "seconds": round(span, 2),
        "emails_per_s": round((len(got) - 1) / span, 1) if span else None,
    }


async def webhooks(http: httpx.AsyncClient, receivers: Receivers, count: int) -> dict[str, Any]:
    _, owner, _ = await register(http, "owner")
    board_id = await board_with(http, owner, [], "webhooks")
    hook = await http.post(
        f"{API}/boards/{board_id}/webhooks", json={"url": receivers.hook_url}, headers=auth(owner)
    )
    hook.raise_for_status()
    before = len(receivers.hooks())
    semaphore = asyncio.Semaphore(8)

    async def create(n: int) -> None:
        async with semaphore:
            made = await http.post(
                f"{API}/boards/{board_id}/tasks", json={"title": f"w{n}"}, headers=auth(owner)
            )
            made.raise_for_status()

    await asyncio.gather(*(create(n) for n in range(count)))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        got = receivers.hooks()[before:]
        if len(got) >= count:
            break
        await asyncio.sleep(0.2)
    span = got[-1] - got[0] if len(got) > 1 else 0.0
    return {
        "events": count,
        "deliveries": len(got),
        "seconds": round(span, 2),
        "deliveries_per_s": round((len(got) - 1) / span, 1) if span else None,
    }


async def measure_notify(args: argparse.Namespace, api: str, ws_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        return await notify(http, ws_url, args.members, args.rate, args.seconds)


async def measure_sends(args: argparse.Namespace, api: str, receivers: Receivers) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        return {
            "reminders": await reminders(http, receivers, args.reminders),
            "webhooks": await webhooks(http, receivers, args.webhooks),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run")
    parser.add_argument("--rate", type=float, default=100.0, help="notify: writes per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="notify: how long")
    parser.add_argument("--members", type=int, default=20, help="notify: assignees (sockets)")
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=2_000)
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds, args.members, args.reminders, args.webhooks = 20, 2, 4, 50, 50
    receivers = Receivers()
    common = {
        "TASKBOARD_SMTP_URL": f"smtp://127.0.0.1:{receivers.smtp_port}",
        "TASKBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "TASKBOARD_QUOTA_TASKS_PER_BOARD": "100000",
    }
    # Every reminder its own e-mail: the figure is e-mails per second. The notify phase runs
    # on a system of its own with the defaults (e-mails gathered into digests), as deployed.
    sends = {**common, "TASKBOARD_EMAIL_DIGEST_SECONDS": "0"}
    results: dict[str, Any] = {}
    try:
        print(f"machine: {machine_summary()}", flush=True)
        with system(2, kinds=("api", "realtime", "worker"), extra_env=common) as sut:
            results["notify"] = asyncio.run(measure_notify(args, sut.api, sut.realtime_ws))
        with system(2, kinds=("api", "realtime", "worker"), extra_env=sends) as sut:
            results.update(asyncio.run(measure_sends(args, sut.api, receivers)))
    finally:
        receivers.stop()
    print(json.dumps(results, indent=2))
    notify_result = results["notify"]
    if notify_result["missing"] or results["reminders"]["emails"] < args.reminders:
        sys.exit(1)
    if results["webhooks"]["deliveries"] < args.webhooks:
        sys.exit(1)


if __name__ == "__main__":
    main()
