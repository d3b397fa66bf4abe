#!/usr/bin/env python3
"""Attachment throughput and the api's memory: one large file (100 MiB by default) uploaded
and downloaded through the api (`taskboard up --ephemeral`) to a local directory and to an S3
API (moto's server, a process of its own), and on S3 also sent straight to the store (a signed
PUT, then confirm) and fetched from it (the api's signed redirect). Prints MiB/s and the api
process's peak resident memory above its baseline for each step.

    .venv/bin/python loadtests/bench_attachments.py [--size-mib 100]

The body is made as it is sent (one 256 KiB piece), so the client holds no copy either. moto
is a Python server: on S3 its speed, not taskboard's, bounds the direct figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx

from benchkit.host import machine_summary
from benchkit.site import running_site_process
from storage_memory import moto_server

MIB = 1024 * 1024
PIECE = hashlib.sha256(b"taskboard").digest() * (256 * 1024 // 32)
BUCKET = "bench"


async def body(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        n = min(len(PIECE), total - sent)
        yield PIECE[:n]
        sent += n


def digest(total: int) -> str:
    hasher = hashlib.sha256()
    for n in range(0, total, len(PIECE)):
        hasher.update(PIECE[: min(len(PIECE), total - n)])
    return hasher.hexdigest()


def peak_reset(pid: int) -> int:
    """Reset the process's peak RSS (Linux) and return its RSS now, in KiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return status_kib(pid, "VmRSS")


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


async def timed(pid: int, step: Any) -> tuple[float, float]:
    """Seconds the step took, and the api's peak memory growth in MiB meanwhile."""
    baseline = peak_reset(pid)
    started = time.perf_counter()
    await step()
    seconds = time.perf_counter() - started
    return seconds, round((status_kib(pid, "VmHWM") - baseline) / 1024, 1)


async def measure(site: str, pid: int, size: int, direct: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=f"{site}/api/v1", timeout=600) as http:
        email = f"bench-{time.time_ns()}@example.com"
        registered = await http.post(
            "/auth/register",
            json={"email": email, "password": "correct horse battery", "display_name": "B"},
        )
        registered.raise_for_status()
        login = await http.post(
            "/auth/login", json={"email": email, "password": "correct horse battery"}
        )
        http.cookies.clear()
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        board = (await http.post("/boards", json={"name": "Files"})).json()
        task = (await http.post(f"/boards/{board['id']}/tasks", json={"title": "Big"})).json()
        # Warm up: the storage client, its pool and threads exist before the baseline.
        warm = await http.post(
            f"/tasks/{task['id']}/attachments", params={"filename": "w.bin"}, content=b"w" * MIB
        )
        warm.raise_for_status()
        await http.get(f"/attachments/{warm.json()['id']}/content", follow_redirects=True)
        made: dict[str, Any] = {}

        async def upload() -> None:
            answer = await http.post(
                f"/tasks/{task['id']}/attachments",
                params={"filename": "big.bin"},
                content=body(size),
                headers={"Content-Type": "application/octet-stream"},
            )
            answer.raise_for_status()
            made.update(answer.json())

        async def download() -> None:
            hasher = hashlib.sha256()
            async with http.stream(
                "GET", f"/attachments/{made['id']}/content", follow_redirects=True
            ) as answer:
                answer.raise_for_status()
                async for chunk in answer.aiter_bytes():
                    hasher.update(chunk)
            assert hasher.hexdigest() == made["sha256"]

        for name, step in (("through_api_upload", upload), ("download", download)):
            seconds, growth = await timed(pid, step)
            figures[f"{name}_mib_per_s"] = round(size / MIB / seconds, 1)
            figures[f"{name}_api_peak_growth_mib"] = growth
        assert made["sha256"] == digest(size)
        if direct:

            async def straight() -> None:
                grant = await http.post(
                    f"/tasks/{task['id']}/attachments/direct",
                    json={"filename": "direct.bin", "size": size, "sha256": digest(size)},
                )
                grant.raise_for_status()
                signed = grant.json()
                async with httpx.AsyncClient(timeout=600) as store:
                    put = await store.put(
                        signed["url"], headers=signed["headers"], content=body(size)
                    )
                    put.raise_for_status()
                confirmed = await http.post(
                    f"/tasks/{task['id']}/attachments/direct/confirm",
                    json={"token": signed["token"]},
                )
                confirmed.raise_for_status()

            seconds, growth = await timed(pid, straight)
            figures["direct_upload_mib_per_s"] = round(size / MIB / seconds, 1)
            figures["direct_upload_api_peak_growth_mib"] = growth
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=100)
    args = parser.parse_args()
    size = args.size_mib * MIB
    cap = {"TASKBOARD_ATTACHMENT_MAX_BYTES": str(size + MIB)}
    print(machine_summary())
    results: dict[str, Any] = {"size_mib": args.size_mib}
    files = Path(mkdtemp(prefix="taskboard-bench-files-"))
    with running_site_process(TASKBOARD_STORAGE_URL=files.as_uri(), **cap) as (site, pid):
        results["local"] = await measure(site, pid, size, direct=False)
    with moto_server() as endpoint:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench-secret",
        ).create_bucket(Bucket=BUCKET)
        s3 = {
            "TASKBOARD_STORAGE_URL": f"s3://{BUCKET}/files",
            "TASKBOARD_STORAGE_S3_ENDPOINT": endpoint,
            "TASKBOARD_STORAGE_S3_ACCESS_KEY_ID": "bench",
            "TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY": "bench-secret",
        }
        with running_site_process(**s3, **cap) as (site, pid):
            results["s3_moto"] = await measure(site, pid, size, direct=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
