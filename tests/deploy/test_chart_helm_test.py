"""The chart's `helm test` pod runs a Python script (charts/taskboard/files/helm-test.py, as the
rendered pod carries it) with the image's interpreter. Here it runs against real servers on
this machine: uvicorn serving /readyz and a WebSocket /ws as the api and realtime pods do, and
servers that answer wrongly, which it must refuse."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.deploy.test_chart import rendered


def helm_test_pod() -> dict[str, object]:
    [pod] = [o for o in rendered("default-values.yaml") if o["kind"] == "Pod"]
    return pod


def script() -> str:
    [container] = helm_test_pod()["spec"]["containers"]  # type: ignore[index]
    command = container["command"]
    assert command[:2] == ["python", "-c"]
    return str(command[2])


@dataclass
class Behaviour:
    ready: bool = True
    accept_socket: bool = True


def app(behaviour: Behaviour) -> Starlette:
    async def readyz(_: Request) -> JSONResponse:
        status = 200 if behaviour.ready else 503
        return JSONResponse({"status": "ok" if behaviour.ready else "unavailable"}, status)

    async def ws(websocket: WebSocket) -> None:
        if not behaviour.accept_socket:
            await websocket.close(code=1008)  # before accepting: uvicorn answers 403
            return
        await websocket.accept()
        await websocket.close(code=1000)

    async def plain(_: Request) -> PlainTextResponse:
        return PlainTextResponse("not a socket")

    return Starlette(
        routes=[Route("/readyz", readyz), WebSocketRoute("/ws", ws), Route("/plain", plain)]
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(behaviour: Behaviour) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app(behaviour), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                pytest.fail("uvicorn did not start")
            threading.Event().wait(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def fake_upgrade(answer: bytes) -> Iterator[str]:
    """A server that answers every request with `answer`, whatever was asked."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    # accept() is not woken by close() on every platform: poll, and stop when told to.
    listener.settimeout(0.05)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


def run(api: str, realtime: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "API_URL": api,
        "REALTIME_URL": realtime,
        "ATTEMPTS": "2",
        "PAUSE_SECONDS": "0",
    }
    return subprocess.run(
        [sys.executable, "-c", script()], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_pod_runs_the_script_against_both_services() -> None:
    pod = helm_test_pod()
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"  # type: ignore[index]
    [container] = pod["spec"]["containers"]  # type: ignore[index]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "API_URL": "http://tb-taskboard-api:8000",
        "REALTIME_URL": "http://tb-taskboard-realtime:8000",
    }


def test_it_passes_when_the_api_is_ready_and_the_socket_upgrades() -> None:
    with serving(Behaviour()) as url:
        result = run(url, url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "api /readyz: ok" in result.stdout
    assert "realtime /ws upgrade: ok (HTTP/1.1 101 Switching Protocols)" in result.stdout


def test_it_fails_when_the_api_is_not_ready() -> None:
    with serving(Behaviour(ready=False)) as url:
        result = run(url, url)
    assert result.returncode == 1
    assert "answered 503" in result.stdout


def test_it_fails_when_the_socket_is_refused() -> None:
    with serving(Behaviour(accept_socket=False)) as url:
        result = run(url, url)
    assert result.returncode == 1
    assert "not 101" in result.stdout


def test_it_fails_on_a_101_that_is_not_a_websocket_handshake() -> None:
    answer = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: c29tZXRoaW5nIGVsc2U=\r\n\r\n"
    )
    with serving(Behaviour()) as api, fake_upgrade(answer) as realtime:
        result = run(api, realtime)
    assert result.returncode == 1
    assert "expected" in result.stdout


def test_it_fails_when_nothing_listens() -> None:
    port = free_port()
    with serving(Behaviour()) as api:
        result = run(api, f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "attempt 2 failed" in result.stdout


def test_the_script_needs_nothing_but_the_standard_library() -> None:
    # The image has the app's dependencies, but the test must not depend on which: run it with
    # site-packages switched off (-S) and no user site, and it still imports.
    code = script().replace('if __name__ == "__main__":', "if False:")
    result = subprocess.run(
        [sys.executable, "-S", "-s", "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
