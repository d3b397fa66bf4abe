"""What every deployment's app shares: opening and closing its resources, and running its
long-lived services (the realtime hub, the relay) for the app's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from taskboard.core.config import Settings
from taskboard.core.telemetry import configure_tracing
from taskboard.rest import health
from taskboard.rest.resources import Resources, close_resources, open_resources

Service = Callable[[FastAPI, Resources], AbstractAsyncContextManager[Any]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def lifespan_for(
    settings: Settings, services: Sequence[Service] = (), resources: Resources | None = None
) -> Lifespan:
    """Resources given by the caller (tests) are used as they are; otherwise they are opened at
    start-up and closed at shutdown, with `services` running in between."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if resources is not None:
            app.state.resources = resources
            yield
            return
        app.state.resources = opened = open_resources(settings)
        try:
            async with AsyncExitStack() as stack:
                for service in services:
                    await stack.enter_async_context(service(app, opened))
                yield
        finally:
            await close_resources(opened)

    return lifespan


def probe_app(settings: Settings, *, component: str, services: Sequence[Service]) -> FastAPI:
    """A deployment with no REST API of its own: its services plus health and metrics."""
    configure_tracing(settings, component)
    app = FastAPI(
        title=f"taskboard {component}",
        lifespan=lifespan_for(settings, services),
        openapi_url=None,
        docs_url=None,
    )
    app.include_router(health.router)
    return app
