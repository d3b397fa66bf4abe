"""/metrics of an api pod as Kubernetes runs it: gunicorn's master serves the metrics port and
its worker processes count the requests, so even a pod of one worker process must merge that
process's figures; and a container restarted in the same pod (its PROMETHEUS_MULTIPROC_DIR an
emptyDir that outlives it) must not keep merging the files of processes that are gone."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from taskboard.embedded.processes import ManagedProcess, free_port, http_ok, taskboard_command
from tests.fixtures.services import ServiceUrls
from tests.realtime.cluster import base_env

REQUESTS = re.compile(r'^taskboard_http_requests_total\{[^}]*route="/healthz"[^}]*\} (\S+)$', re.M)


def _healthz_count(metrics: str) -> float:
    return sum(float(value) for value in REQUESTS.findall(metrics))


def test_a_one_process_api_pod_serves_its_workers_metrics(
    service_urls: ServiceUrls, tmp_path: Path
) -> None:
    shared = tmp_path / "metrics"  # the pod's emptyDir
    shared.mkdir()
    # What a dead container left: a process that no longer exists counted 1000 requests.
    stale = shared / "counter_999999.db"
    port, metrics_port = free_port(), free_port()
    env = base_env(
        service_urls,
        TASKBOARD_METRICS_PORT=str(metrics_port),
        PROMETHEUS_MULTIPROC_DIR=str(shared),
    )
    url = f"http://127.0.0.1:{port}"

    def run_pod() -> str:
        api = ManagedProcess(
            taskboard_command("api", "--port", str(port)),
            name="api-one-process",
            env=env,
            ready=http_ok(f"{url}/readyz"),
            ready_timeout=60,
            stop_timeout=30,
        ).start()
        try:
            api.wait_ready()
            for _ in range(3):
                assert httpx.get(f"{url}/healthz").status_code == 200
            return httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        finally:
            api.stop()

    first = run_pod()
    assert _healthz_count(first) >= 3, first  # the worker process's requests, merged
    # The next container of the pod finds the first one's files, and a stranger's.
    leftovers = sorted(p.name for p in shared.glob("*.db"))
    assert leftovers, "the first container wrote no metrics files"
    stale.write_bytes((shared / leftovers[0]).read_bytes())
    second = run_pod()
    # Only its own requests: nothing of the gone processes is merged into its figures.
    assert 3 <= _healthz_count(second) < _healthz_count(first) + 3, second
