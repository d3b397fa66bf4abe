"""The api deployment's FastAPI application."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRouter
from fastapi.staticfiles import StaticFiles

from taskboard import __version__
from taskboard.api import problems
from taskboard.api.middleware import (
    BodyLimitMiddleware,
    MetricsMiddleware,
    SecurityHeadersMiddleware,
    TraceContextMiddleware,
)
from taskboard.api.warmup import warmed_pool
from taskboard.api.web import serve_web
from taskboard.attachments.routes import UPLOAD_PATH
from taskboard.attachments.routes import router as attachments_router
from taskboard.attachments.routes import upload_router as attachment_upload_router
from taskboard.auth.routes import me_router
from taskboard.auth.routes import router as auth_router
from taskboard.boards.routes import columns_router as board_columns_router
from taskboard.boards.routes import router as boards_router
from taskboard.columns.routes import router as columns_router
from taskboard.comments.routes import router as comments_router
from taskboard.core.config import Settings
from taskboard.core.runtime import Resources, Service, lifespan_for
from taskboard.core.telemetry import configure_tracing
from taskboard.deadletters.routes import router as dead_letters_router
from taskboard.events.routes import router as events_router
from taskboard.labels.routes import router as labels_router
from taskboard.notifications.routes import public_router as unsubscribe_router
from taskboard.notifications.routes import router as notifications_router
from taskboard.routing import health
from taskboard.routing.contract import declare_problem_schema, operation_id
from taskboard.snapshots.routes import router as snapshots_router
from taskboard.storage import open_storage
from taskboard.tasks.routes import router as tasks_router
from taskboard.transfer.routes import IMPORT_PATHS
from taskboard.transfer.routes import import_router as board_import_router
from taskboard.transfer.routes import jobs_router as imports_router
from taskboard.transfer.routes import router as board_export_router
from taskboard.webhooks.routes import router as webhooks_router

API_PREFIX = "/api/v1"

# In this order: a request goes to the first route that matches it.
DOMAIN_ROUTERS = (
    auth_router,
    me_router,
    board_import_router,  # before /boards/{board_id}: "import" is no board id
    boards_router,
    snapshots_router,
    board_export_router,
    imports_router,
    columns_router,
    board_columns_router,
    tasks_router,
    comments_router,
    attachments_router,
    attachment_upload_router,
    labels_router,
    events_router,
    notifications_router,
    unsubscribe_router,
    webhooks_router,
    dead_letters_router,
)


async def index() -> dict[str, str]:
    """Where a person who opens the API's base URL finds their way."""
    return {
        "name": "taskboard",
        "version": __version__,
        "docs": "/api/docs",
        "openapi": "/api/openapi.json",
        "websocket": "/ws",
    }


def include_api(app: FastAPI | APIRouter) -> None:
    """The REST API under /api/v1, each domain's router included straight into `app`.

    Not through one /api/v1 router holding the domains' routers: FastAPI matches a request
    against every level of nested routers (and again when it hands it down), and the extra
    level cost about 0.1 ms of CPU per request (a tenth of a task create's routing and
    validation work), for nothing but a shared prefix."""
    app.add_api_route(API_PREFIX, index, methods=["GET"], include_in_schema=False)
    for domain in DOMAIN_ROUTERS:
        app.include_router(domain, prefix=API_PREFIX)


def api_router() -> APIRouter:
    """The same routes as one router (what tests mount on a bare app)."""
    router = APIRouter()
    include_api(router)
    return router


# FastAPI 0.142 and later trace every request themselves once a tracer provider is set (ours
# always is: it mints trace ids). The contrib instrumentation above does it when exporting, the
# trace-context middleware when not: FastAPI's own would be a second, costly copy.
_NO_NATIVE_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters
    else {}
)

SWAGGER_UI = Path(__file__).parent / "swagger_ui"  # swagger-ui-dist, vendored (see VERSION)


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI from the package's own copy: the default loads it from a CDN, and a
    machine without internet (or a strict Content-Security-Policy) got a blank page."""
    static = "/api/docs/static"
    app.mount(static, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="taskboard API",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon-32x32.png",
        )


def create_app(
    settings: Settings, *, resources: Resources | None = None, services: Sequence[Service] = ()
) -> FastAPI:
    """Build the app. Tests pass `resources` bound to their own connection; otherwise the
    lifespan opens the engine and Redis and closes them on shutdown. `services` run for the
    app's lifetime (`taskboard up` adds the realtime hub and the relay)."""
    configure_tracing(settings, "api")
    app = FastAPI(
        **_NO_NATIVE_TELEMETRY,
        title="taskboard",
        version=__version__,
        summary="Real-time collaborative task board",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served below from the package: no CDN, works offline
        generate_unique_id_function=operation_id,
        redoc_url=None,
        lifespan=lifespan_for(settings, (warmed_pool, *services), resources),
    )
    if resources is not None:
        app.state.resources = resources  # ASGITransport in tests runs no lifespan
    # Files (attachments); None without TASKBOARD_STORAGE_URL (their routes then answer 503).
    app.state.storage = open_storage(settings) if settings.storage_url else None
    _serve_docs(app)
    declare_problem_schema(app)
    problems.install(app)
    health.include(app, settings)
    include_api(app)
    serve_web(app)
    upload = re.compile("/api/v1" + re.sub(r"\{[a-z_]+\}", "[^/]+", UPLOAD_PATH))
    imports = [
        ("POST", re.compile(f"/api/v1{path}"), settings.import_max_bytes) for path in IMPORT_PATHS
    ]
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        streamed=[("POST", upload)],
        larger=imports,
    )
    app.add_middleware(SecurityHeadersMiddleware, no_store_prefix="/api/v1/auth/")
    app.add_middleware(MetricsMiddleware)
    if settings.otlp_endpoint:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    else:
        # Spans would be dropped: only the trace id is needed (logs, problems, events). Outside
        # Starlette's ServerErrorMiddleware, whose 500 problem shows it too.
        build = app.build_middleware_stack
        app.build_middleware_stack = lambda: TraceContextMiddleware(build())  # type: ignore[method-assign]
    return app
