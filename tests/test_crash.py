"""`taskboard up` on a persistent data dir loses no acknowledged write when it and PostgreSQL are
SIGKILLed in the middle of a burst, and restarts by itself with `make up`'s command."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import asyncpg
import httpx

from tests.test_cli import Up, register_and_login

WRITERS = 4


def _postmaster(data_dir: Path) -> tuple[int, int, str]:
    """Pid, port and password of the PostgreSQL running on `up`'s data dir (wherever the
    cluster lives, see servers.py)."""
    from taskboard.embedded.servers import EmbeddedPostgres

    home = EmbeddedPostgres(data_dir / "postgres").data_dir
    lines = (home / "cluster" / "postmaster.pid").read_text().splitlines()
    return int(lines[0]), int(lines[3]), (home / "password").read_text().strip()


def _durability_settings(port: int, password: str) -> dict[str, str]:
    async def show() -> dict[str, str]:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=port, user="taskboard", password=password, database="taskboard"
        )
        try:
            names = ("fsync", "synchronous_commit", "full_page_writes")
            return {name: await connection.fetchval(f"SHOW {name}") for name in names}
        finally:
            await connection.close()

    return asyncio.run(show())


def _burst(
    base_url: str,
    headers: dict[str, str],
    board_id: str,
    stop: threading.Event,
    acknowledged: list[str],
) -> None:
    """Create tasks until told to stop; keep the id of every create answered 201."""
    with httpx.Client(base_url=base_url, timeout=5) as http:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                response = http.post(
                    f"/api/v1/boards/{board_id}/tasks", json={"title": f"t{n}"}, headers=headers
                )
            except httpx.HTTPError:
                continue  # the server is gone: nothing acknowledged
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])


def _events(http: httpx.Client, board_id: str, headers: dict[str, str]) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    after = 0
    while True:
        page = http.get(
            f"/api/v1/boards/{board_id}/events",
            params={"after": after, "limit": 200},
            headers=headers,
        )
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        if not items:
            return events
        events += items
        after = items[-1]["seq"]


def test_sigkill_during_a_burst_loses_no_acknowledged_write(tmp_path: Path) -> None:
    first = Up(tmp_path, "--data-dir", "state")
    try:
        first.wait_ready()
        assert first.data_dir is not None
        with httpx.Client(base_url=first.base_url, timeout=10) as http:
            headers = register_and_login(http)
            board = http.post("/api/v1/boards", json={"name": "Crash"}, headers=headers)
            assert board.status_code == 201, board.text
            board_id = board.json()["id"]
        acknowledged: list[str] = []
        stop = threading.Event()
        writers = [
            threading.Thread(
                target=_burst, args=(first.base_url, headers, board_id, stop, acknowledged)
            )
            for _ in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        # In the middle of the burst: PostgreSQL and `up` die at once, no shutdown of any kind.
        postmaster, port, password = _postmaster(first.data_dir)
        # A persistent `up` runs PostgreSQL so that an acknowledged commit is on disk.
        assert _durability_settings(port, password) == {
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
        }
        os.killpg(os.getpgid(postmaster), signal.SIGKILL)
        os.killpg(first.process.pid, signal.SIGKILL)
        stop.set()
        for writer in writers:
            writer.join(timeout=30)
        first.process.wait(timeout=30)
        assert len(acknowledged) >= 150, "the burst never got going"
    finally:
        first.server.kill()  # whatever is left of it; the data dir stays for the restart

    second = Up(tmp_path, "--data-dir", "state")  # what `make up` runs, on the same data
    try:
        second.wait_ready()
        with httpx.Client(base_url=second.base_url, timeout=30) as http:
            register_and_login(http)  # the server works for new users too (it asserts so)
            for task_id in acknowledged:
                got = http.get(f"/api/v1/tasks/{task_id}", headers=headers)
                assert got.status_code == 200, f"acknowledged task {task_id} lost: {got.text}"
            before = _events(http, board_id, headers)
            after_restart = http.post(
                f"/api/v1/boards/{board_id}/tasks", json={"title": "after"}, headers=headers
            )
            assert after_restart.status_code == 201, after_restart.text
            events = _events(http, board_id, headers)
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1)), "the log has gaps or reused seqs"
        created = [e["data"]["task"]["id"] for e in events if e["type"] == "task.created"]
        assert len(created) == len(set(created))
        assert set(acknowledged) <= set(created)
        # The write after the restart took the next seq: nothing committed before was reused.
        assert events[-1]["seq"] == len(before) + 1
        assert events[-1]["data"]["task"]["id"] == after_restart.json()["id"]
    finally:
        second.reap()
