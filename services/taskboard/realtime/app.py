"""The realtime deployment: `/ws` plus health and metrics. `taskboard up` puts the same entry
point and hub in front of the api app, so one host and port serve `/api` and `/ws`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from taskboard.core.config import Settings
from taskboard.core.runtime import Resources
from taskboard.realtime import session
from taskboard.realtime.hub import Hub
from taskboard.realtime.wire import Wire
from taskboard.routing.probe import probe_app


class WebSocketEntry:
    """The ASGI entry point: `/ws` goes straight to the hub, everything else to the app.

    Routing sockets through FastAPI's middleware and router would keep a dozen frames and
    objects alive for the whole life of every socket; at ten thousand sockets that is most of
    a pod's memory.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            hub: Hub = self.app.state.hub
            await session.serve(hub, WebSocket(scope, receive, send), Wire.of(send))
        else:
            await self.app(scope, receive, send)


@asynccontextmanager
async def running_hub(app: FastAPI, resources: Resources) -> AsyncIterator[Hub]:
    hub = Hub(resources)
    app.state.hub = hub
    await hub.start()
    # Fan-out allocates a few tracked objects per frame; with the default thresholds the
    # collector ran constantly and a full pass over a thousand sockets' objects every few
    # seconds made the latency tail. (Start-up's objects are frozen by the lifespan, as in
    # every process: core.heap.)
    gc.set_threshold(50_000, 20, 20)
    try:
        yield hub
    finally:
        await hub.stop()


def create_app(settings: Settings) -> WebSocketEntry:
    return WebSocketEntry(probe_app(settings, component="realtime", services=[running_hub]))
