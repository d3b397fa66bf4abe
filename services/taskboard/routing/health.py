"""Liveness (the process answers), readiness (dependencies reachable, schema at head), and
/metrics for a process that serves it on its main port."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from taskboard.core.config import Settings
from taskboard.core.migrations import current_revision, head_revision, schema_state
from taskboard.core.runtime import Resources
from taskboard.core.telemetry import render_metrics

router = APIRouter(include_in_schema=False)
_HEAD = head_revision()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(resources: Resources) -> str:
    async with resources.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        revision = await current_revision(conn)
    # A newer schema ("ahead") is fine: an upgrade migrates before its pods replace these.
    state = schema_state(revision)
    if state in ("current", "ahead"):
        return "ok"
    return f"schema at {revision} ({state}), need {_HEAD}"


async def _check_redis(resources: Resources) -> str:
    await resources.redis.ping()
    return "ok"


async def _guarded(name: str, check: object) -> tuple[str, str]:
    try:
        return name, await asyncio.wait_for(check, timeout=3)  # type: ignore[arg-type]
    except Exception as exc:
        return name, f"unavailable: {type(exc).__name__}"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    resources: Resources = request.app.state.resources
    if getattr(request.app.state, "draining", False):
        return JSONResponse({"status": "draining"}, status_code=503)
    results = dict(
        await asyncio.gather(
            _guarded("postgres", _check_database(resources)),
            _guarded("redis", _check_redis(resources)),
        )
    )
    ready = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status_code=200 if ready else 503,
    )


# Only on the main port when TASKBOARD_METRICS_PORT is 0 (see core.telemetry.serve_metrics).
metrics_router = APIRouter(include_in_schema=False)


@metrics_router.get("/metrics")
async def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)


def include(app: FastAPI, settings: Settings) -> None:
    app.include_router(router)
    if settings.metrics_port == 0:
        app.include_router(metrics_router)
