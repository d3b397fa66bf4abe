"""`taskboard up | api | migrate`: one entry point for every deployment and for laptops."""

from __future__ import annotations

import argparse
import logging
import math
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from taskboard.core.config import ConfigurationError, Settings, load_database_url, load_settings
from taskboard.core.logging import configure_logging
from taskboard.embedded.servers import EmbeddedServerError

log = logging.getLogger("taskboard")


def _migrate(database_url: str) -> bool:
    from taskboard.core.migrations import upgrade_to_head

    return upgrade_to_head(database_url)


def cmd_migrate(args: argparse.Namespace) -> None:
    url = load_database_url()
    configure_logging()
    if args.wait:
        _wait_for_schema(url, timeout=args.timeout)
        return
    if _migrate(url):
        log.info("database migrated to head")
    else:
        log.info("the schema is ahead of this release (a newer one migrated it): nothing to do")


def _wait_for_schema(url: str, *, timeout: float) -> None:
    import asyncio

    from taskboard.core.migrations import head_revision, wait_for_schema

    def waiting(reason: str) -> None:
        log.info("waiting for the schema", extra={"reason": reason})

    async def bounded() -> str:
        async with asyncio.timeout(timeout or None):
            return await wait_for_schema(url, on_wait=waiting)

    try:
        revision = asyncio.run(bounded())
    except TimeoutError:
        raise ConfigurationError(
            f"the database schema did not reach {head_revision()} within {timeout:g} s: "
            "has the migration (taskboard migrate) run?"
        ) from None
    log.info("schema ready", extra={"revision": revision})


def cmd_rotate_epochs(_: argparse.Namespace) -> None:
    import asyncio

    from taskboard.core.migrations import rotate_epochs

    url = load_database_url()
    configure_logging()
    boards = asyncio.run(rotate_epochs(url))
    log.info("board epochs rotated: clients resync", extra={"boards": boards})


def cmd_site_role(args: argparse.Namespace) -> None:
    import asyncio

    from taskboard.core.migrations import set_site_role
    from taskboard.users.models import email_key

    url = load_database_url()
    configure_logging()
    if not asyncio.run(set_site_role(url, email_key(args.email), args.role)):
        raise ConfigurationError(f"no account with the e-mail {args.email}")
    log.info("site role set", extra={"role": args.role})


def app_factory() -> object:
    """Gunicorn/uvicorn import this: settings come from the environment of each worker."""
    from taskboard.api.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def worker_app_factory() -> object:
    """What each process of a multi-process worker pod serves (see cmd_worker)."""
    from taskboard.worker.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def cmd_api(args: argparse.Namespace) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    _gunicorn(
        args,
        settings,
        factory=app_factory,
        workers=settings.web_concurrency,
        graceful_timeout=settings.graceful_timeout_seconds,
    )


def _gunicorn(
    args: argparse.Namespace,
    settings: Settings,
    *,
    factory: Callable[[], object],
    workers: int,
    graceful_timeout: int,
) -> None:
    """A gunicorn master with `workers` uvicorn processes, each serving `factory()`'s app
    (with its lifespan: the worker deployment's parts run in every process)."""
    from gunicorn.app.base import BaseApplication

    # Each worker process writes its metrics to files here and the master's /metrics merges
    # them: even with one worker, which is not the process serving /metrics.
    own_metrics_dir = None
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        # A pod's emptyDir outlives a restarted container: files of processes that are gone
        # would be merged into every scrape for ever.
        for stale in Path(given).glob("*.db"):
            stale.unlink(missing_ok=True)
    else:  # ours: removed at exit
        own_metrics_dir = tempfile.mkdtemp(prefix="taskboard-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_metrics_dir

    # Imported only now: prometheus_client picks its multiprocess mode when first imported,
    # so PROMETHEUS_MULTIPROC_DIR must be set before (above).
    from taskboard.core.telemetry import serve_metrics

    class Master(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host or settings.host}:{args.port or settings.port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "taskboard.api.worker.ApiWorker")
            self.cfg.set("graceful_timeout", graceful_timeout)
            self.cfg.set("timeout", 60)
            self.cfg.set("keepalive", 75)
            self.cfg.set("accesslog", None)
            self.cfg.set("child_exit", _mark_process_dead)
            # /metrics on its own port, from the master: it merges every worker's figures.
            self.cfg.set("when_ready", lambda _server: serve_metrics(settings))
            # gunicorn's own lines in the same JSON as everything else.
            self.cfg.set("logconfig_dict", gunicorn_json_logs(settings.log_level))

        def load(self) -> object:
            return factory()

    try:
        Master().run()
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def gunicorn_json_logs(level: str) -> dict[str, Any]:
    """gunicorn's own lines as JSON, at TASKBOARD_LOG_LEVEL like every other line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "taskboard.core.logging.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
        },
    }


def _mark_process_dead(_server: object, worker: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined, no-untyped-call]


@contextmanager
def _embedded_services(data_dir: Path, *, persistent: bool) -> Iterator[dict[str, str]]:
    """Start embedded PostgreSQL/Redis for whichever URL the environment does not give."""
    from taskboard.embedded.servers import EmbeddedPostgres, EmbeddedRedis

    env: dict[str, str] = {}
    stops: list[Callable[[], None]] = []
    try:
        if not os.environ.get("TASKBOARD_DATABASE_URL"):
            pg = EmbeddedPostgres(
                data_dir / "postgres",
                port=_port("TASKBOARD_EMBEDDED_PG_PORT"),
                durable=persistent,  # only --ephemeral trades crash safety for speed
            )
            pg.start()
            stops.append(lambda: pg.stop(remove_data=not persistent))
            env["TASKBOARD_DATABASE_URL"] = pg.url
            log.info("embedded PostgreSQL started", extra={"url": pg.url})
        if not os.environ.get("TASKBOARD_REDIS_URL"):
            redis = EmbeddedRedis(
                data_dir / "redis",
                port=_port("TASKBOARD_EMBEDDED_REDIS_PORT"),
                persistent=persistent,
            )
            redis.start()
            stops.append(redis.stop)
            env["TASKBOARD_REDIS_URL"] = redis.url
            log.info("embedded Redis started", extra={"url": redis.url})
        yield env
    finally:
        for stop in reversed(stops):
            stop()


def _port(variable: str) -> int:
    from taskboard.embedded.servers import free_port

    value = os.environ.get(variable)
    return int(value) if value else free_port()


def _dev_secret(data_dir: Path) -> str:
    """A random signing key kept with the data, so tokens survive a restart of `up`."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def local_storage_url(data_dir: Path) -> str:
    """Where `taskboard up` keeps files: `files/` in its data dir, as a file:// URL."""
    return (data_dir.resolve() / "files").as_uri()


def _serve(
    app: object, *, host: str, port: int, settings: Settings, banner: str | None = None
) -> None:
    """uvicorn for the long-lived socket deployments (one process per pod: sockets hold state).
    On SIGTERM it stops accepting, closes WebSockets with 1012 and drains within the grace.
    `banner` is printed once the socket listens, not before."""
    import uvicorn

    from taskboard.api.worker import uvicorn_options

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if banner and self.started:
                print(banner, flush=True)

    # uvicorn re-raises the signal after its graceful shutdown, restoring the handler it found;
    # with the defaults SIGTERM would kill us, and Ctrl-C (SIGINT) raise KeyboardInterrupt with
    # a traceback, before `up` stops its embedded servers in order.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_config=None,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_interval_seconds,
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=settings.ws_compression,
        timeout_graceful_shutdown=settings.graceful_timeout_seconds,
        **uvicorn_options(settings),
    )
    from taskboard.core.telemetry import serve_metrics

    stop_metrics = serve_metrics(settings)
    try:
        Server(config).run()
    finally:
        if stop_metrics is not None:
            stop_metrics()


def _port_free(host: str, port: int) -> None:
    """Fail before starting anything when the port is taken, with the way out in the message."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port} ({exc.strerror}); another program uses it. "
                "Pick another port: taskboard up --port 8001 (or TASKBOARD_PORT=8001 make up)"
            ) from None


def _serve_deployment(args: argparse.Namespace, factory: Callable[[Settings], object]) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    _serve(
        factory(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        settings=settings,
    )


def cmd_realtime(args: argparse.Namespace) -> None:
    from taskboard.realtime.app import create_app

    _serve_deployment(args, create_app)


def cmd_relay(args: argparse.Namespace) -> None:
    from taskboard.worker.relay import create_app

    _serve_deployment(args, create_app)


def cmd_worker(args: argparse.Namespace) -> None:
    """One process, or with TASKBOARD_WORKER_PROCESSES > 1 a gunicorn master and that many
    processes, each running the relay, the notifier, the claimer and Dramatiq's threads (the
    consumer group, row locks and SKIP LOCKED share the work as between pods)."""
    settings = load_settings()
    if settings.worker_processes == 1:
        from taskboard.worker.app import create_app

        _serve_deployment(args, create_app)
        return
    configure_logging(settings.log_level)
    _gunicorn(
        args,
        settings,
        factory=worker_app_factory,
        workers=settings.worker_processes,
        # Dramatiq's own stop, then the app's other parts: a few seconds more.
        graceful_timeout=math.ceil(settings.worker_shutdown_timeout_seconds) + 5,
    )


def cmd_up(args: argparse.Namespace) -> None:
    configure_logging(os.environ.get("TASKBOARD_LOG_LEVEL", "INFO"))
    data_dir = (
        Path(tempfile.mkdtemp(prefix="taskboard-"))
        if args.ephemeral
        else Path(args.data_dir).resolve()
    )
    _port_free(args.host, args.port)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with _embedded_services(data_dir, persistent=not args.ephemeral) as env:
            os.environ.update(env)
            os.environ.setdefault("TASKBOARD_ENV", "development")
            os.environ.setdefault("TASKBOARD_COOKIE_SECURE", "false")
            # One process on a laptop: /metrics beside the API (deployments use their own port).
            os.environ.setdefault("TASKBOARD_METRICS_PORT", "0")
            os.environ.setdefault("TASKBOARD_SECRET_KEY", _dev_secret(data_dir))
            # Attachments live beside the data, and go with it (--ephemeral removes them).
            os.environ.setdefault("TASKBOARD_STORAGE_URL", local_storage_url(data_dir))
            settings = load_settings()
            _migrate(settings.database_url)
            from taskboard.api.app import create_app
            from taskboard.realtime.app import WebSocketEntry, running_hub
            from taskboard.worker.files import running_file_collector
            from taskboard.worker.jobs import running_jobs
            from taskboard.worker.notifier import running_notifier
            from taskboard.worker.relay import running_relay
            from taskboard.worker.reminders import running_reminders
            from taskboard.worker.webhooks import running_webhook_sweeper

            services = [
                running_hub,
                running_relay,
                running_jobs,
                running_notifier,
                running_reminders,
                running_webhook_sweeper,
                running_file_collector,  # thumbnails come with running_jobs
            ]
            app = WebSocketEntry(create_app(settings, services=services))
            url = f"http://{args.host}:{args.port}"
            banner = (
                f"\ntaskboard is up: {url}/api/v1  (docs: {url}/api/docs, "
                f"WebSocket: ws://{args.host}:{args.port}/ws)  data: {data_dir}\n"
            )
            _serve(app, host=args.host, port=args.port, settings=settings, banner=banner)
    finally:
        if args.ephemeral:
            shutil.rmtree(data_dir, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options (the delivery checks parse each manifest's args with it)."""
    parser = argparse.ArgumentParser(prog="taskboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the whole system locally on embedded PostgreSQL and Redis")
    up.add_argument("--host", default=os.environ.get("TASKBOARD_HOST", "127.0.0.1"))
    up.add_argument("--port", type=int, default=int(os.environ.get("TASKBOARD_PORT", "8000")))
    up.add_argument("--data-dir", default=os.environ.get("TASKBOARD_DATA_DIR", ".taskboard"))
    up.add_argument(
        "--ephemeral", action="store_true", help="keep everything in a temp dir removed at exit"
    )
    up.set_defaults(func=cmd_up)
    api = sub.add_parser("api", help="serve the api deployment (gunicorn + uvicorn workers)")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    api.set_defaults(func=cmd_api)
    for name, func, help_text in (
        ("realtime", cmd_realtime, "serve the realtime deployment (WebSocket /ws)"),
        ("relay", cmd_relay, "run the outbox relay (appends events that missed Redis)"),
        ("worker", cmd_worker, "run the worker deployment (relay, notifications, e-mail)"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--host", default=None)
        command.add_argument("--port", type=int, default=None)
        command.set_defaults(func=func)
    migrate = sub.add_parser("migrate", help="upgrade the database schema to the latest migration")
    migrate.add_argument(
        "--wait",
        action="store_true",
        help="migrate nothing: wait until the schema is at or past this code's head "
        "(an init container's job)",
    )
    migrate.add_argument(
        "--timeout",
        type=float,
        default=0,
        help="with --wait: give up (exit 2) after this many seconds; 0 waits forever",
    )
    migrate.set_defaults(func=cmd_migrate)
    rotate = sub.add_parser(
        "rotate-epochs",
        help="after restoring the database from a backup: every client resyncs every board",
    )
    rotate.set_defaults(func=cmd_rotate_epochs)
    role = sub.add_parser(
        "site-role", help="make an account a site admin (dead letters) or a plain user again"
    )
    role.add_argument("email")
    role.add_argument("role", choices=["admin", "user"])
    role.set_defaults(func=cmd_site_role)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ConfigurationError as exc:
        print(f"taskboard: {exc}", file=sys.stderr)
        sys.exit(2)
    except EmbeddedServerError as exc:
        print(f"taskboard: {exc.detail}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
