"""An app for a deployment with no REST API of its own: its services plus health and metrics."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from taskboard.core.config import Settings
from taskboard.core.runtime import Service, lifespan_for
from taskboard.core.telemetry import configure_tracing
from taskboard.routing import health


def probe_app(settings: Settings, *, component: str, services: Sequence[Service]) -> FastAPI:
    configure_tracing(settings, component)
    app = FastAPI(
        title=f"taskboard {component}",
        lifespan=lifespan_for(settings, services),
        openapi_url=None,
        docs_url=None,
    )
    health.include(app, settings)
    return app
