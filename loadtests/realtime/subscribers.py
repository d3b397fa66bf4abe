"""The subscriber side: load-generator processes, each holding its share of the WebSocket
subscribers and recording, per event frame, the latency from the create request's start."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvloop

from realtime.rawws import RawSocket, connect
from realtime.system import raise_fd_limit

OPEN_ATTEMPTS = 5


async def subscribed(url: str, token: str, board_id: str) -> RawSocket:
    sock = await connect(url)
    try:
        sock.send_text(json.dumps({"type": "auth", "token": token}))
        await sock.receive()
        sock.send_text(json.dumps({"type": "subscribe", "board_id": board_id}))
        # Ready once subscribed, not once asked: what is measured is fan-out, not a thousand
        # subscriptions still being checked when the first write lands.
        while b'"subscribed"' not in await sock.receive():
            pass
    except BaseException:
        sock.close()
        raise
    return sock


def recorder(out: SubscriberResults) -> Any:
    """What each frame costs the generator: byte searches, not json.loads (at 20,000 frames/s
    the generator's own parsing would dominate what is measured). Titles carry the request's
    start time (wall clock: the writer may be another process)."""

    # One event reaches every socket of the process with the same title and time: each is
    # parsed once, not once per socket.
    started: dict[bytes, float] = {}
    committed: dict[bytes, float] = {}

    def record(raw: bytes) -> None:
        wall = time.time()
        at = raw.find(b'"title":"w')
        if at < 0:
            return
        title = raw[at + 9 : raw.index(b'"', at + 10)]
        if (sent := started.get(title)) is None:
            sent = started[title] = float(title.split(b"@", 1)[1])
        out.latencies.append(wall - sent)
        ts_at = raw.rfind(b'"ts":"')
        if ts_at >= 0:
            ts = raw[ts_at + 6 : raw.index(b'"', ts_at + 6)]
            if (at_commit := committed.get(ts)) is None:
                iso = ts.decode().replace("Z", "+00:00")
                at_commit = committed[ts] = datetime.fromisoformat(iso).timestamp()
            out.after_commit.append(wall - at_commit)
        out.frames.value += 1

    return record


async def subscriber(
    url: str,
    token: str,
    board_id: str,
    out: SubscriberResults,
    ready: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    for attempt in range(OPEN_ATTEMPTS):
        try:
            sock = await subscribed(url, token, board_id)
            break
        except (OSError, TimeoutError):
            # A thousand handshakes at once on a loaded machine: some time out. Only what
            # follows `subscribed` is measured, so trying again changes nothing measured.
            if attempt == OPEN_ATTEMPTS - 1:
                raise
            await asyncio.sleep(1.0)
    record = recorder(out)
    while not sock.inbox.empty():  # what came between `subscribed` and now (presence)
        record(sock.inbox.get_nowait())
    sock.on_message = record
    ready.set()
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([stopping, sock.closed], return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            code = sock.closed.result()
            raise ConnectionError(f"the server closed a subscriber's socket ({code})")
    finally:
        stopping.cancel()
        sock.close()


@dataclass
class SubscriberResults:
    frames: Any  # a multiprocessing.Value shared with the parent
    latencies: list[float] = field(default_factory=list)
    after_commit: list[float] = field(default_factory=list)


def subscriber_process(
    url: str, token: str, boards: list[str], ready: Any, stop: Any, frames: Any, results: Any
) -> None:
    """One load-generator process: its share of the subscribers, reported back at the end."""

    async def run() -> None:
        out = SubscriberResults(frames)
        local_stop = asyncio.Event()
        readies = [asyncio.Event() for _ in boards]
        tasks = []
        for i, board_id in enumerate(boards):
            tasks.append(
                asyncio.create_task(subscriber(url, token, board_id, out, readies[i], local_stop))
            )
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        while not all(r.is_set() for r in readies):
            # A subscriber that gave up would leave the parent waiting for ever: fail instead.
            for task in tasks:
                if task.done():
                    task.result()
            await asyncio.sleep(0.1)
        # The generator's own cyclic-GC pauses would show up as latency: keep them out.
        gc.freeze()
        gc.disable()
        ready.set()
        while not stop.is_set():  # noqa: ASYNC110 - a multiprocessing event, not an asyncio one
            await asyncio.sleep(0.1)
        local_stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        results.put((out.latencies, out.after_commit))

    raise_fd_limit()
    # uvloop, as the servers run: asyncio's own loop spends several times more per socket read.
    uvloop.run(run())
