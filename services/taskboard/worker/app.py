"""`taskboard worker`: the worker deployment's process. It runs the outbox relay (so a cluster
needs no relay deployment of its own), the Dramatiq actors (e-mail, webhooks, thumbnails,
imports), the notifier and the housekeeping loops (retention, file collection), beside
/healthz, /readyz and /metrics."""

from __future__ import annotations

from fastapi import FastAPI

from taskboard.core.config import Settings
from taskboard.routing.probe import probe_app
from taskboard.worker.files import running_file_collector
from taskboard.worker.imports import running_import_sweeper
from taskboard.worker.jobs import running_jobs
from taskboard.worker.notifier import running_notifier
from taskboard.worker.relay import running_relay
from taskboard.worker.reminders import running_reminders
from taskboard.worker.retention import running_retention
from taskboard.worker.webhooks import running_webhook_sweeper


def create_app(settings: Settings) -> FastAPI:
    return probe_app(
        settings,
        component="worker",
        services=[
            running_relay,
            running_jobs,
            running_notifier,
            running_reminders,
            running_webhook_sweeper,
            running_retention,
            running_import_sweeper,
            running_file_collector,
        ],
    )
