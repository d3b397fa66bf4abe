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

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from realtime.system import raise_fd_limit

OPEN_ATTEMPTS = 5


async def subscribed(url: str, token: str, board_id: str) -> ClientConnection:
    ws = await websockets.connect(url, max_queue=None, ping_interval=None)
    try:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "board_id": board_id}))
        # Ready once subscribed, not once asked: what is measured is fan-out, not a thousand
        # subscriptions still being checked when the first write lands.
        while '"subscribed"' not in str(await ws.recv()):
            pass
    except BaseException:
        await ws.close()
        raise
    return ws


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
            ws = await subscribed(url, token, board_id)
            break
        except (OSError, TimeoutError, WebSocketException):
            # A thousand handshakes at once on a loaded machine: some time out. Only what
            # follows `subscribed` is measured, so trying again changes nothing measured.
            if attempt == OPEN_ATTEMPTS - 1:
                raise
            await asyncio.sleep(1.0)
    async with ws:
        ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            wall = time.time()
            # String slicing, not json.loads: at 20,000 frames/s the load generator's own
            # parsing would dominate what is measured. Titles carry the request's start time
            # (wall clock: the writer may be another process).
            at = raw.find('"title":"w')
            if at < 0:
                continue
            title = raw[at + 9 : raw.index('"', at + 10)]
            out.latencies.append(wall - float(title.split("@", 1)[1]))
            ts_at = raw.rfind('"ts":"')
            if ts_at >= 0:
                ts = raw[ts_at + 6 : raw.index('"', ts_at + 6)]
                committed = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
                out.after_commit.append(wall - committed)
            out.frames.value += 1


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
    asyncio.run(run())
