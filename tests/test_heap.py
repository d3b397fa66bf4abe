"""Once a process has started, the objects of its start-up are out of the garbage collector's
reach (a full collection walked all of them: 100-190 ms pauses in an api worker under load),
start-up's garbage is freed first, and every pause from then on is timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import TEST_SECRET

# A fresh interpreter: freezing is for the whole process, and pytest's must stay as it is.
_PROBE = """
import asyncio, gc, json, types, weakref
from taskboard.core.config import Settings
from taskboard.core.heap import GC_PAUSE
from taskboard.core.runtime import lifespan_for


class Cycle:
    pass


def pauses(generation):
    for metric in GC_PAUSE.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels["generation"] == generation:
                return sample.value
    return 0.0


async def main():
    gc.disable()  # nothing may collect the cycle before start-up is done
    garbage = Cycle()
    garbage.me = garbage
    dead = weakref.ref(garbage)
    del garbage
    before = gc.get_freeze_count()
    app = types.SimpleNamespace(state=types.SimpleNamespace())
    async with lifespan_for(Settings())(app):
        frozen = gc.get_freeze_count()
        gc.collect()
        print(json.dumps({
            "before": before,
            "frozen": frozen,
            "garbage_freed": dead() is None,
            "full_pauses_timed": pauses("2"),
        }))


asyncio.run(main())
"""


def test_start_up_objects_are_frozen_after_its_garbage_is_freed_and_pauses_are_timed() -> None:
    env = {
        **os.environ,
        # Nothing connects: the lifespan opens a pool and a client, both lazy.
        "TASKBOARD_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:9/none",
        "TASKBOARD_REDIS_URL": "redis://127.0.0.1:9/0",
        "TASKBOARD_SECRET_KEY": TEST_SECRET,
        "TASKBOARD_ENV": "test",
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    # The modules, settings, engine and client of start-up: many thousands of objects.
    assert seen["frozen"] > 10_000, seen
    assert seen["garbage_freed"], "start-up's garbage was frozen instead of freed"
    assert seen["full_pauses_timed"] == 1, seen
