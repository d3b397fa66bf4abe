"""The machine a benchmark runs on, read from /proc: what it is, how busy it is, and the CPU
and memory of the processes being measured (Linux only)."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): state is field 0."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used itself."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def proc_table() -> dict[int, tuple[int, float, float]]:
    """pid -> (ppid, own CPU seconds, CPU seconds of its reaped children) for every process."""
    table: dict[int, tuple[int, float, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            f = _stat_fields(entry)
        except OSError:
            continue
        own = (int(f[11]) + int(f[12])) / _TICK
        table[int(entry)] = (int(f[1]), own, (int(f[13]) + int(f[14])) / _TICK)
    return table


def machine_busy() -> tuple[float, float]:
    """Machine-wide (busy, total) CPU time so far, in ticks: the difference of two samples
    gives the utilisation in between."""
    parts = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def cpu_probe_ms() -> float:
    """A fixed pure-Python workload (best of 5): on a shared VM the host's speed drifts, and
    this tells a slow phase on a slow moment apart from a slow phase."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        total = 0
        for i in range(100_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def code_version() -> str:
    """The commit of the taskboard package being measured, marked when it has local changes."""
    import taskboard

    repo = Path(taskboard.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "services"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return f"{repo} (not a git checkout)"
    return commit + (" + local changes" if dirty else "")


def machine() -> dict[str, str]:
    """CPU, memory, Python, code and kernel, as the write benchmark reports them."""
    info: dict[str, str] = {"nproc": str(len(os.sched_getaffinity(0)))}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    info["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    info["code"] = code_version()
    info["kernel"] = platform.release()
    return info


def machine_summary() -> str:
    """The machine in one line, as the realtime benchmark reports it."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return (
        f"{os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
