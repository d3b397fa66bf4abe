"""How much memory a large upload and download take through taskboard.storage.

Streams --size-mib MiB (made as it is sent: the source holds one 256 KiB chunk) through
Storage.put_stream and back through open_read, to a local directory and to an S3 API (moto's
server in a child process, so its copy of the file is not counted here), and prints the
process's peak resident memory above its baseline for each: the figure that must stay far
below the file's size. tests/storage/test_memory.py runs it and checks that; the figures in
docs/benchmarks.md come from it.

    .venv/bin/python loadtests/storage_memory.py --size-mib 128 [--backend local|s3|both]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from taskboard.core.config import Settings
from taskboard.storage import Storage, open_storage

CHUNK = 256 * 1024
MIB = 1 << 20


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM (the peak) to the current RSS.
    Path("/proc/self/clear_refs").write_text("5")


async def source(total: int) -> AsyncIterator[bytes]:
    piece = hashlib.sha256(b"taskboard").digest() * (CHUNK // 32)
    sent = 0
    while sent < total:
        n = min(CHUNK, total - sent)
        yield piece if n == CHUNK else piece[:n]
        sent += n


async def measure(storage: Storage, size: int) -> dict[str, Any]:
    # Warm up: obstore's runtime, threads and connection pool exist before the baseline.
    await storage.put_stream("warmup/a", source(12 * MIB), max_bytes=size)
    reader = await storage.open_read("warmup/a")
    async for _ in reader:
        pass
    await storage.delete("warmup/a")

    figures: dict[str, Any] = {"size_mib": size / MIB}
    reset_peak()
    baseline = rss_kib("VmRSS")
    started = time.perf_counter()
    stored = await storage.put_stream("bench/big", source(size), max_bytes=size)
    seconds = time.perf_counter() - started
    assert stored.size == size
    figures["upload_peak_growth_mib"] = round((rss_kib("VmHWM") - baseline) / 1024, 1)
    figures["upload_mib_per_s"] = round(size / MIB / seconds, 1)

    reset_peak()
    baseline = rss_kib("VmRSS")
    started = time.perf_counter()
    reader = await storage.open_read("bench/big")
    digest = hashlib.sha256()
    async for chunk in reader:
        digest.update(chunk)
    seconds = time.perf_counter() - started
    assert digest.hexdigest() == stored.sha256
    figures["download_peak_growth_mib"] = round((rss_kib("VmHWM") - baseline) / 1024, 1)
    figures["download_mib_per_s"] = round(size / MIB / seconds, 1)
    await storage.delete("bench/big")
    return figures


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test",
        "database_url": "postgresql://u@127.0.0.1:1/db",
        "redis_url": "redis://127.0.0.1:1/0",
        "secret_key": "s" * 40,
    }
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]


@contextmanager
def moto_server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    moto = Path(sys.executable).with_name("moto_server")
    server = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        import httpx

        httpx.put(f"{endpoint}/bench", timeout=30).raise_for_status()  # create the bucket
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


async def run(backend: str, size: int) -> dict[str, Any]:
    if backend == "local":
        with tempfile.TemporaryDirectory(prefix="taskboard-storage-") as tmp:
            storage = open_storage(settings(storage_url=Path(tmp).as_uri()))
            return {"backend": "local", **await measure(storage, size)}
    with moto_server() as endpoint:
        storage = open_storage(
            settings(
                storage_url="s3://bench/memory",
                storage_s3_endpoint=endpoint,
                storage_s3_access_key_id="bench",
                storage_s3_secret_access_key="bench-secret",
            )
        )
        return {"backend": "s3 (moto)", **await measure(storage, size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=128)
    parser.add_argument("--backend", choices=["local", "s3", "both"], default="both")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    backends = ["local", "s3"] if args.backend == "both" else [args.backend]
    results = [asyncio.run(run(backend, args.size_mib * MIB)) for backend in backends]
    for figures in results:
        print(
            f"{figures['backend']:>10}: {figures['size_mib']:.0f} MiB; peak RSS growth "
            f"upload {figures['upload_peak_growth_mib']} MiB "
            f"({figures['upload_mib_per_s']} MiB/s), "
            f"download {figures['download_peak_growth_mib']} MiB "
            f"({figures['download_mib_per_s']} MiB/s)"
        )
    print(json.dumps(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
