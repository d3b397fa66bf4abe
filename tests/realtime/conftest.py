from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fixtures.services import ServiceUrls
from tests.fixtures.smtp import SmtpServer
from tests.realtime.cluster import Pod, start, wait_ready


@dataclass
class Cluster:
    api1: Pod
    api2: Pod
    api_no_fast_path: Pod
    rt1: Pod
    rt2: Pod
    relay: Pod
    worker1: Pod
    worker2: Pod
    urls: ServiceUrls
    smtp: SmtpServer

    def all(self) -> list[Pod]:
        return [
            self.api1,
            self.api2,
            self.api_no_fast_path,
            self.rt1,
            self.rt2,
            self.relay,
            self.worker1,
            self.worker2,
        ]


# One set of pods for the whole package: starting them is the slow part.
@pytest.fixture(scope="package")
def cluster(service_urls: ServiceUrls) -> Iterator[Cluster]:
    smtp = SmtpServer().start()
    mail = {
        "TASKBOARD_SMTP_URL": smtp.url,
        "TASKBOARD_SMTP_FROM": "taskboard <tb@example.test>",
        # Short, so tests wait little; long enough to gather a burst (and to read one first).
        "TASKBOARD_EMAIL_DIGEST_SECONDS": "2",
        # The test's webhook receiver listens on loopback.
        "TASKBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    }
    pods = Cluster(
        api1=start("api", "api-1", service_urls, TASKBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS="true"),
        api2=start("api", "api-2", service_urls),
        api_no_fast_path=start("api", "api-3", service_urls, TASKBOARD_PUBLISH_FAST_PATH="false"),
        rt1=start("realtime", "rt-1", service_urls),
        rt2=start("realtime", "rt-2", service_urls),
        relay=start("relay", "relay-1", service_urls),
        worker1=start("worker", "worker-1", service_urls, **mail),
        worker2=start("worker", "worker-2", service_urls, **mail),
        urls=service_urls,
        smtp=smtp,
    )
    try:
        wait_ready(pods.all())
        yield pods
    finally:
        for pod in pods.all():
            pod.kill()
        smtp.stop()
