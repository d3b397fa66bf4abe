#!/usr/bin/env python3
"""What one hop between processes costs on this machine: a Redis PING round trip from an
asyncio client (redis-py, as the api and realtime pods use it), sent back to back and then
with the client idle between pings.

On a VM the gap matters: a process woken on an idle vCPU waits for the hypervisor to run that
vCPU again, so a request chain's latency at a low rate can be higher than at a high one. Every
write -> frame crosses about eight such hops (load generator -> api -> Redis -> api ->
PostgreSQL -> api -> Redis -> realtime -> subscriber); this says what each costs here.

    .venv/bin/python loadtests/bench_hops.py
    .venv/bin/python loadtests/bench_hops.py --pings 1000 --gaps-ms 0,1,5,20,100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import redis.asyncio as aredis

from benchkit.host import cpu_probe_ms, machine_summary
from benchkit.stats import percentile
from taskboard.embedded.servers import EmbeddedRedis


async def round_trips(url: str, *, pings: int, gap_seconds: float) -> list[float]:
    client = aredis.from_url(url)
    try:
        await client.ping()  # connected before the clock starts
        seconds = []
        for _ in range(pings):
            started = time.perf_counter()
            await client.ping()
            seconds.append(time.perf_counter() - started)
            if gap_seconds:
                await asyncio.sleep(gap_seconds)
        return seconds
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=400)
    parser.add_argument("--gaps-ms", default="0,1,5,20", help="idle time between pings")
    args = parser.parse_args()
    print(f"machine: {machine_summary()}")
    with tempfile.TemporaryDirectory(prefix="bench-hops-") as base:
        redis = EmbeddedRedis(Path(base) / "redis", persistent=False)
        redis.start()
        try:
            for gap_ms in (float(g) for g in args.gaps_ms.split(",")):
                seconds = asyncio.run(
                    round_trips(redis.url, pings=args.pings, gap_seconds=gap_ms / 1000)
                )
                record = {
                    "gap_ms": gap_ms,
                    "pings": len(seconds),
                    "p50_us": round(percentile(seconds, 50) * 1e6),
                    "p90_us": round(percentile(seconds, 90) * 1e6),
                    "p99_us": round(percentile(seconds, 99) * 1e6),
                    "cpu_probe_ms": round(cpu_probe_ms(), 2),
                }
                print(json.dumps(record), flush=True)
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
