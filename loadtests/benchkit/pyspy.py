"""py-spy on a running process, and what its raw (collapsed) stacks say: where the CPU went.

`record` attaches py-spy (`pip install py-spy`) to a pid for the duration of a block and writes
its samples in the collapsed format (one `frame;frame;... count` line per distinct stack), which
speedscope (https://www.speedscope.app) and flamegraph tools open as they are. `summarize`
reads such a file back and splits the samples two ways:

- by **layer**: the library the innermost frame belongs to (a sample inside `json.dumps`
  called by SQLAlchemy counts for SQLAlchemy: the standard library is charged to its caller),
  so the shares add up to 100 %;
- by **our code**: the innermost taskboard function on the stack (a sample in SQLAlchemy called
  by `tasks.repository.column_tail` counts for `column_tail`); samples with no taskboard frame
  count for the library they are in (the event loop, routing, the middleware of libraries);
- by **stage**: the share of samples with a given function anywhere on their stack (auth, the
  service, the commit, serialization...): stages nest and overlap, they do not add up.

A caveat on a busy machine: py-spy samples a thread whenever it is not blocked, and a thread
that is runnable but waiting for a core counts as busy. Lines that wake another process (a
socket write to PostgreSQL or Redis on the same cores) collect samples for the time the other
process then runs. The shares are a map of where to look; /proc CPU time, A against B, is the
measure.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from taskboard.embedded.processes import ManagedProcess, stop_all

# The frame that runs the event loop: a sample whose innermost Python frame is this one was
# in the loop's own code (uvloop runs callbacks and I/O in C: py-spy sees only the runner).
_LOOP_FRAME = re.compile(r"(Runner\.run|run_until_complete|run_forever) .*asyncio/")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")
_SITE = re.compile(r"/(?:site|dist)-packages/(?P<pkg>[^/]+)/")
_STDLIB = re.compile(r"/lib/python3\.\d+/(?P<mod>[^/]+?)(?:\.py)?(?:/|$)")
_NAMES = {
    "jwt": "PyJWT",
    "redis": "redis client",
    "prometheus_client": "prometheus_client",
    "opentelemetry": "OpenTelemetry",
}


def py_spy() -> str | None:
    """The py-spy executable: on PATH or beside this interpreter."""
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else None


@contextlib.contextmanager
def record(pids: Sequence[int], out_dir: Path, label: str, rate: int = 250) -> Iterator[list[Path]]:
    """py-spy each pid over the block; yields the paths its raw stacks will be written to
    (written when the block ends). Without py-spy it yields no paths and records nothing."""
    spy = py_spy()
    if spy is None:
        yield []
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{label}-{pid}.txt" for pid in pids]
    spies = [
        ManagedProcess(
            [spy, "record", "--pid", str(pid), "--format", "raw", "--nonblocking",
             "--full-filenames", "--rate", str(rate), "--output", str(path)],
            name=f"py-spy {pid}",
        ).start()
        for pid, path in zip(pids, paths, strict=True)
    ]  # fmt: skip
    time.sleep(1.0)  # let py-spy attach
    try:
        yield paths
    finally:
        stop_all(spies, sig=signal.SIGINT, timeout=30)  # SIGINT: py-spy writes its stacks


def _parse(frame: str) -> tuple[str, str]:
    """(function, file) of one collapsed frame, e.g. `Session.execute (/x/session.py:12)`."""
    match = _FRAME.match(frame)
    return (match["func"], match["file"]) if match else (frame, "")


def layer_of(path: str) -> str | None:
    """The library a source file belongs to; None for the standard library."""
    site = _SITE.search(path)
    if site:
        pkg = site["pkg"]
        return _NAMES.get(pkg, pkg)
    if "/taskboard/" in path or path.startswith("taskboard/"):
        return "taskboard"
    if _STDLIB.search(path) or path.startswith("<frozen"):
        return None
    return path.split("/", 1)[0] or path


def stdlib_module(path: str) -> str:
    match = _STDLIB.search(path)
    return match["mod"] if match else path


@dataclass
class Summary:
    samples: int
    layers: Counter[str]
    stages: Counter[str]
    ours: Counter[str]

    def share(self, count: int) -> float:
        return count / self.samples if self.samples else 0.0

    def lines(self, top: int = 14) -> list[str]:
        out = [f"{self.samples} samples"]
        out += [
            f"  {self.share(n) * 100:5.1f} %  {name}" for name, n in self.layers.most_common(top)
        ]
        out.append("  by the innermost taskboard function (library time charged to its caller):")
        out += [f"  {self.share(n) * 100:5.1f} %  {name}" for name, n in self.ours.most_common(top)]
        if self.stages:
            out.append("  stages (a sample counts for every stage on its stack):")
            out += [
                f"  {self.share(n) * 100:5.1f} %  {name}"
                for name, n in sorted(self.stages.items(), key=lambda kv: -kv[1])
            ]
        return out


def summarize(paths: Sequence[Path], stages: dict[str, str] | None = None) -> Summary:
    """Layers and stages of the collapsed stacks in `paths`. `stages`: name -> a regular
    expression matched against each frame's function name (and file)."""
    patterns = {name: re.compile(pattern) for name, pattern in (stages or {}).items()}
    layers: Counter[str] = Counter()
    staged: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            frames = [_parse(f) for f in stack.split(";")]
            layer = _innermost_layer(frames)
            layers[layer] += count
            ours[_innermost_ours(frames) or f"(no taskboard frame) {layer}"] += count
            for name, pattern in patterns.items():
                if any(pattern.search(f"{func} {file}") for func, file in frames):
                    staged[name] += count
    return Summary(total, layers, staged, ours)


def _innermost_ours(frames: list[tuple[str, str]]) -> str | None:
    for func, file in reversed(frames):
        if layer_of(file) == "taskboard" and not file.endswith(("cli.py", "embedded/processes.py")):
            module = file[file.rindex("taskboard/") :].removesuffix(".py").replace("/", ".")
            return f"{module}.{func}"
        if _LOOP_FRAME.search(f"{func} {file}"):
            return None  # below the loop: the process's start-up code, not a request's
    return None


def _innermost_layer(frames: list[tuple[str, str]]) -> str:
    for func, file in reversed(frames):
        layer = layer_of(file)
        if layer is not None:
            return layer
        if _LOOP_FRAME.search(f"{func} {file}"):
            # Reached the loop with only the standard library above it: uvloop's C code
            # (I/O, timers, running callbacks) beneath a frame py-spy cannot see into.
            return "event loop and I/O (native)"
    return "standard library: " + (stdlib_module(frames[-1][1]) if frames else "?")
