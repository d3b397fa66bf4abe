"""Python's cyclic garbage collector in a long-running process.

Start-up leaves a few hundred thousand objects that live as long as the process (modules,
classes, routes, pydantic validators), and a full collection walks every one of them: 50-190
ms in an api worker under load, a pause in which none of its requests moves
(docs/benchmarks.md). As the lifespan begins they are taken out of the collector's reach, so a
full pass walks only what was allocated since (3-15 ms). Not later: what the services open
(pooled connections, sockets, tasks) may become garbage in a cycle (a recycled connection),
and a frozen cycle is never freed. Every pause is timed into `taskboard_gc_pause_seconds`, so
a latency spike can be told apart from one.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

GC_PAUSE = Histogram(
    "taskboard_gc_pause_seconds",
    "Pauses of Python's cyclic garbage collector, by generation (2: a full collection)",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
)

_started: dict[int, float] = {}


def _time_pause(phase: str, info: dict[str, Any]) -> None:
    generation = info["generation"]
    if phase == "start":
        _started[generation] = time.perf_counter()
    elif (began := _started.pop(generation, None)) is not None:
        GC_PAUSE.labels(generation=str(generation)).observe(time.perf_counter() - began)


def settle() -> int:
    """Called once the app is built: collect start-up's garbage (frozen garbage would never be
    freed), freeze what is left, time the pauses from now on; how many objects were frozen."""
    gc.collect()
    gc.freeze()
    if _time_pause not in gc.callbacks:
        gc.callbacks.append(_time_pause)
    return gc.get_freeze_count()
