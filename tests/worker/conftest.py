from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.fixtures.services import ServiceUrls
from tests.fixtures.smtp import SmtpServer
from tests.realtime.cluster import Pod, start, wait_ready


@dataclass
class Deployment:
    """An api pod and worker pods of their own (started and killed by the tests), sending
    e-mail to a real SMTP server."""

    api: Pod
    smtp: SmtpServer
    urls: ServiceUrls
    workers: list[Pod] = field(default_factory=list)

    def start_worker(self, name: str) -> Pod:
        pod = start(
            "worker",
            name,
            self.urls,
            TASKBOARD_SMTP_URL=self.smtp.url,
            TASKBOARD_SMTP_FROM="taskboard <tb@example.test>",
            TASKBOARD_REMINDER_POLL_SECONDS="0.2",
            TASKBOARD_REMINDER_LATE_AFTER_SECONDS="2",
            TASKBOARD_NOTIFIER_CLAIM_IDLE_SECONDS="5",
            # One e-mail per reminder, so the tests can count them.
            TASKBOARD_EMAIL_DIGEST_SECONDS="0",
        )
        self.workers.append(pod)
        wait_ready([pod])
        return pod


@pytest.fixture(scope="package")
def deployment(service_urls: ServiceUrls) -> Iterator[Deployment]:
    smtp = SmtpServer().start()
    api = start("api", "api-w", service_urls)
    wait_ready([api])
    deployed = Deployment(api=api, smtp=smtp, urls=service_urls)
    try:
        yield deployed
    finally:
        for pod in [api, *deployed.workers]:
            pod.kill()
        smtp.stop()
