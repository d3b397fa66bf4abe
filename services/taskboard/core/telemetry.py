"""OpenTelemetry tracing (OTLP when configured) and the Prometheus metrics every process exports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from taskboard.core.config import Settings

HTTP_REQUESTS = Counter(
    "taskboard_http_requests",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "taskboard_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_POOL_CHECKED_OUT = Gauge(
    "taskboard_db_pool_checked_out",
    "Database connections currently checked out of the pool",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "taskboard_db_pool_size",
    "Configured database pool size (per process)",
    multiprocess_mode="livesum",
)

_tracing_configured = False
_exporting = False  # spans go somewhere (an OTLP endpoint is set)


def configure_tracing(settings: Settings, component: str) -> None:
    """Install a tracer provider once per process; export over OTLP/HTTP when an endpoint is set."""
    global _tracing_configured, _exporting
    if _tracing_configured:
        return
    _tracing_configured = True
    _exporting = bool(settings.otlp_endpoint)
    # Without an exporter nothing records spans (they would cost time for nobody), but every
    # request still gets a trace id for its logs and error responses.
    sampler = (
        ParentBased(TraceIdRatioBased(settings.trace_sample_ratio))
        if settings.otlp_endpoint
        else ALWAYS_OFF
    )
    provider = TracerProvider(
        sampler=sampler,
        resource=Resource.create(
            {
                "service.name": f"{settings.service_name}-{component}",
                "service.namespace": "taskboard",
            }
        ),
    )
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        # SQL and Redis spans only matter when exported; their hooks cost every call.
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()
    trace.set_tracer_provider(provider)


def instrument_engine(engine: AsyncEngine, settings: Settings) -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from sqlalchemy import event

    if settings.otlp_endpoint:
        # The instrumentation declares SQLAlchemy < 2.1 and silently does nothing on 2.1; the
        # engine events it hooks are unchanged, and tests/test_tracing.py checks the SQL spans.
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, enable_commenter=False, skip_dep_check=True
        )
    DB_POOL_SIZE.inc(settings.db_pool_size)

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(*_: Any) -> None:
        DB_POOL_CHECKED_OUT.inc()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(*_: Any) -> None:
        DB_POOL_CHECKED_OUT.dec()


def sql_span(statement: str, database: str) -> AbstractContextManager[object]:
    """A client span for a statement sent on the driver itself (core.db.Driver), named and
    described as SQLAlchemy's instrumentation names its own; nothing without an exporter."""
    if not _exporting:
        return nullcontext()
    verb = statement.split(None, 1)[0] if statement.strip() else "SQL"
    return trace.get_tracer("taskboard").start_as_current_span(
        f"{verb} {database}".strip(),
        kind=SpanKind.CLIENT,
        attributes={"db.system": "postgresql", "db.name": database, "db.statement": statement},
    )


def render_metrics() -> tuple[bytes, str]:
    """The exposition text; merges every gunicorn worker when multiprocess mode is on."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST


W3C = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, for whatever carries the work on in another
    process (a board event's row and stream entry, a Dramatiq message)."""
    carrier: dict[str, str] = {}
    W3C.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def continued(name: str, traceparent: str | None, **attributes: str | int) -> Iterator[None]:
    """A consumer span in the trace `traceparent` names (a trace of its own without one), so
    the work's spans and log lines carry the trace id of the request that caused it."""
    context = W3C.extract({"traceparent": traceparent}) if traceparent else None
    with trace.get_tracer("taskboard").start_as_current_span(
        name,
        context=context,
        kind=SpanKind.CONSUMER,
        attributes={f"taskboard.{key}": value for key, value in attributes.items()},
    ):
        yield


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def serve_metrics(settings: Settings) -> Callable[[], None] | None:
    """/metrics on its own port (TASKBOARD_METRICS_PORT; 0: on the main port instead, and
    nothing is started here), so the public port never shows it. A thread of this process;
    returns how to stop it."""
    if settings.metrics_port == 0:
        return None
    registry: CollectorRegistry = DEFAULT_REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    host = settings.metrics_host or settings.host
    server, thread = start_http_server(settings.metrics_port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)

    return stop
