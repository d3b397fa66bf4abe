#!/usr/bin/env python3
"""Worker benchmark: notifications, reminders and webhooks through real processes.

Brings the system up itself (embedded PostgreSQL and Redis, `taskboard api`, `taskboard
realtime`, `taskboard worker`), with a real SMTP server (aiosmtpd) and a real HTTP receiver in
this process, then measures:

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
import secrets
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import websockets
from aiosmtpd.controller import Controller

from benchkit.host import machine_summary
from benchkit.stats import percentile
from realtime.system import system
from taskboard.embedded.processes import free_port

API = "/api/v1"


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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


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
    sent: dict[str, float] = {}  # task title -> create start
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
    start = time.monotonic()
    writes = []
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        title = f"t{n}"
        sent[title] = time.monotonic()
        assignee = people[n % members][0]
        writes.append(
            asyncio.create_task(
                http.post(
                    f"{API}/boards/{board_id}/tasks",
                    json={"title": title, "assignee_ids": [assignee]},
                    headers=auth(owner),
                )
            )
        )
    for response in await asyncio.gather(*writes):
        response.raise_for_status()
    try:
        await asyncio.wait_for(asyncio.gather(*listeners), timeout=60)
    except TimeoutError:
        missing = total - len(latencies)
    return {
        "writes_per_s": rate,
        "notifications": len(latencies),
        "missing": missing,
        "p50_ms": ms(latencies, 50),
        "p95_ms": ms(latencies, 95),
        "p99_ms": ms(latencies, 99),
    }


async def reminders(http: httpx.AsyncClient, inbox: Inbox, count: int) -> dict[str, Any]:
    _, owner, _ = await register(http, "owner")
    ada, ada_token, _ = await register(http, "ada")
    prefs = await http.patch(
        f"{API}/notifications/preferences",
        json={"reminder_offsets_minutes": [], "email": ["overdue"]},
        headers=auth(ada_token),
    )
    prefs.raise_for_status()
    board_id = await board_with(http, owner, [ada], "reminders")
    # Every reminder must fall due after the last task exists (creation runs at some tens a
    # second while the worker plans): a generous lead, checked below.
    due = datetime.now(UTC) + timedelta(seconds=10 + count / 25)
    with inbox.lock:
        before = len(inbox.arrivals)
    semaphore = asyncio.Semaphore(8)

    async def create(n: int) -> None:
        async with semaphore:
            made = await http.post(
                f"{API}/boards/{board_id}/tasks",
                json={"title": f"r{n}", "assignee_ids": [ada], "due_at": due.isoformat()},
                headers=auth(owner),
            )
            made.raise_for_status()

    await asyncio.gather(*(create(n) for n in range(count)))
    created_before_due = datetime.now(UTC) < due
    deadline = time.monotonic() + (due - datetime.now(UTC)).total_seconds() + 300
    while time.monotonic() < deadline:
        with inbox.lock:
            got = inbox.arrivals[before:]
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


async def webhooks(http: httpx.AsyncClient, hooks: Hooks, count: int) -> dict[str, Any]:
    _, owner, _ = await register(http, "owner")
    board_id = await board_with(http, owner, [], "webhooks")
    hook = await http.post(
        f"{API}/boards/{board_id}/webhooks", json={"url": hooks.url}, headers=auth(owner)
    )
    hook.raise_for_status()
    with hooks.lock:
        before = len(hooks.arrivals)
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
        with hooks.lock:
            got = hooks.arrivals[before:]
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


async def run(
    args: argparse.Namespace, api: str, ws_url: str, inbox: Inbox, hooks: Hooks
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        return {
            "notify": await notify(http, ws_url, args.members, args.rate, args.seconds),
            "reminders": await reminders(http, inbox, args.reminders),
            "webhooks": await webhooks(http, hooks, args.webhooks),
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
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    hooks = Hooks()
    extra = {
        "TASKBOARD_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "TASKBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "TASKBOARD_QUOTA_TASKS_PER_BOARD": "100000",
        # Every reminder its own e-mail: the figure is e-mails per second.
        "TASKBOARD_EMAIL_DIGEST_SECONDS": "0",
    }
    try:
        with system(2, kinds=("api", "realtime", "worker"), extra_env=extra) as sut:
            print(f"machine: {machine_summary()}", flush=True)
            results = asyncio.run(run(args, sut.api, sut.realtime_ws, inbox, hooks))
    finally:
        smtp.stop()
        hooks.server.shutdown()
    print(json.dumps(results, indent=2))
    notify_result = results["notify"]
    if notify_result["missing"] or results["reminders"]["emails"] < args.reminders:
        sys.exit(1)
    if results["webhooks"]["deliveries"] < args.webhooks:
        sys.exit(1)


if __name__ == "__main__":
    main()
