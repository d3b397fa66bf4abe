"""`helm test` for taskboard, run with the image's Python and its standard library only.

1. GET /readyz through the api Service: 200 means the api reaches PostgreSQL and Redis and the
   schema is at its code's head.
2. A WebSocket upgrade through the realtime Service, written by hand on a raw socket: the
   answer must be 101 Switching Protocols with the Sec-WebSocket-Accept RFC 6455 derives from
   our key (a proxy or a plain HTTP server answering instead would not know it).

A few attempts, for Services whose endpoints are still settling; exits 0 when both pass.
"""

import base64
import hashlib
import http.client
import os
import socket
import sys
import time
import urllib.parse

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ATTEMPTS = int(os.environ.get("ATTEMPTS", "5"))
PAUSE = float(os.environ.get("PAUSE_SECONDS", "3"))


def address(url):
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port or 80


def readyz(url):
    host, port = address(url)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", "/readyz", headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(2048).decode("utf-8", "replace")
    finally:
        connection.close()
    if response.status != 200:
        raise AssertionError(f"GET {url}/readyz answered {response.status}: {body}")
    return body


def websocket_upgrade(url):
    host, port = address(url)
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    request = (
        "GET /ws HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    )
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request.encode("ascii"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
            if len(head) > 65536:
                break
    lines = head.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or status[1] != "101":
        raise AssertionError(f"the upgrade to {url}/ws answered {lines[0]!r}, not 101")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    expected = base64.b64encode(
        hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii"), usedforsecurity=False).digest()
    ).decode("ascii")
    if headers.get("sec-websocket-accept") != expected:
        raise AssertionError(
            f"the upgrade to {url}/ws answered 101 with Sec-WebSocket-Accept "
            f"{headers.get('sec-websocket-accept')!r}, expected {expected!r}"
        )
    return lines[0]


def main():
    checks = (
        ("api /readyz", readyz, os.environ["API_URL"]),
        ("realtime /ws upgrade", websocket_upgrade, os.environ["REALTIME_URL"]),
    )
    for name, check, url in checks:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                result = check(url)
            except (AssertionError, OSError, http.client.HTTPException) as exc:
                print(f"{name}: attempt {attempt} failed: {exc}", flush=True)
                if attempt == ATTEMPTS:
                    return 1
                time.sleep(PAUSE)
            else:
                print(f"{name}: ok ({result.strip()[:200]})", flush=True)
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
