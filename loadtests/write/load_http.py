"""The HTTP load generators: one user, boards, task creates and snapshot GETs over a fixed
set of keep-alive connections (benchkit.http1: about a tenth of httpx's CPU per request, so the
generator does not crowd out the api it measures on a small machine)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable

from benchkit.http1 import Pool

API = "/api/v1"
PASSWORD = "correct horse battery staple"

WORDS = [
    *("review", "deploy", "write", "draft", "migrate", "fix", "refactor", "document", "test"),
    *("plan", "release", "triage", "design", "profile", "measure", "cache", "index", "rollout"),
    *("onboarding", "budget", "invoice", "roadmap", "sync"),
]


def title(i: int) -> str:
    return f"{random.choice(WORDS).capitalize()} {random.choice(WORDS)} #{i}"


async def http_setup(client: Pool) -> tuple[dict[str, str], uuid.UUID]:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    r = await client.post(
        f"{API}/auth/register",
        json_body={"email": email, "password": PASSWORD, "display_name": "Bench"},
    )
    user_id = uuid.UUID(r.expect(201).json()["id"])
    r = await client.post(f"{API}/auth/login", json_body={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.expect(200).json()['access_token']}"}, user_id


async def new_board(client: Pool, headers: dict[str, str], name: str) -> uuid.UUID:
    r = await client.post(f"{API}/boards", json_body={"name": name}, headers=headers)
    return uuid.UUID(r.expect(201).json()["id"])


async def run_ops(
    total: int, concurrency: int, op: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Run `op(i)` for i in range(total) on `concurrency` coroutines; wall time, latencies."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def lane() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


async def http_creates(
    client: Pool,
    headers: dict[str, str],
    boards: uuid.UUID | list[uuid.UUID],
    total: int,
    conc: int,
) -> tuple[float, list[float]]:
    """`total` creates on `conc` lanes; every response must be a 201."""
    urls = [f"{API}/boards/{b}/tasks" for b in (boards if isinstance(boards, list) else [boards])]

    async def op(i: int) -> None:
        r = await client.post(urls[i % len(urls)], json_body={"title": title(i)}, headers=headers)
        r.expect(201)

    return await run_ops(total, conc, op)


async def snapshots(
    client: Pool,
    headers: dict[str, str],
    board: uuid.UUID,
    count: int,
    *,
    write_before: bool,
) -> tuple[float, list[float], int, int]:
    """Time `count` GETs of the snapshot. With `write_before`, an untimed task create precedes
    each GET, so every GET is the first read of a new seq (the API caches by board and seq)."""
    sizes: list[int] = []
    latencies: list[float] = []
    ntasks = 0
    for i in range(count):
        if write_before:
            await http_creates(client, headers, board, 1, 1)
        t0 = time.perf_counter()
        r = await client.get(f"{API}/boards/{board}", headers=headers)
        latencies.append((time.perf_counter() - t0) * 1000)
        r.expect(200)
        sizes.append(len(r.body))
        if i == 0:
            ntasks = len(r.json()["tasks"])
    return sum(latencies) / 1000, latencies, max(sizes), ntasks
