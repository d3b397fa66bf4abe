"""The smallest Locust scenario that crosses both of the topology's routes: GET /readyz (to the
api processes) and a WebSocket upgrade on /ws (to the realtime processes), reported through
Locust's request events. tests/test_topology.py runs it while loadtests/locustfile.py does not
exist yet."""

from __future__ import annotations

import time

import websocket
from locust import HttpUser, between, task


class ProbeUser(HttpUser):
    wait_time = between(0.05, 0.2)

    @task(3)
    def readyz(self) -> None:
        self.client.get("/readyz", name="/readyz")

    @task(1)
    def socket_upgrade(self) -> None:
        url = self.host.replace("http", "ws", 1) + "/ws"
        started = time.perf_counter()
        error: Exception | None = None
        try:
            socket = websocket.create_connection(url, timeout=10)
            socket.close()
        except Exception as exc:  # any failure is the request's, reported as such
            error = exc
        self.environment.events.request.fire(
            request_type="WS",
            name="/ws upgrade",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )
