"""The realtime deployment: `/ws` plus health and metrics. `taskboard up` mounts the same
endpoint and hub into the api app, so one host and port serve `/api` and `/ws`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, WebSocket

from taskboard.core.config import Settings
from taskboard.core.telemetry import configure_tracing
from taskboard.realtime.hub import Hub
from taskboard.rest.resources import Resources, close_resources, open_resources


def mount(app: FastAPI) -> None:
    @app.websocket("/ws")
    async def websocket_endpoint(websocket: WebSocket) -> None:
        hub: Hub = websocket.app.state.hub
        await hub.handle(websocket)


@asynccontextmanager
async def running_hub(app: FastAPI, resources: Resources) -> AsyncIterator[Hub]:
    hub = Hub(resources)
    app.state.hub = hub
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def create_app(settings: Settings) -> FastAPI:
    from taskboard.api import health  # the same probes as the api deployment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = open_resources(settings)
        app.state.resources = resources
        try:
            async with running_hub(app, resources):
                yield
        finally:
            await close_resources(resources)

    configure_tracing(settings, "realtime")
    app = FastAPI(title="taskboard realtime", lifespan=lifespan, openapi_url=None, docs_url=None)
    app.include_router(health.router)
    mount(app)
    return app
