"""Child processes for tests, benchmarks and the embedded servers: start one, wait until it
serves, stop it for sure.

One harness instead of a copy per test module and benchmark:

- `free_port()` picks a port on 127.0.0.1 that nothing listens on;
- `taskboard_command(...)` is the argv of `python -m taskboard.cli ...` with this interpreter;
- readiness checks: `http_ok(url, ...)` (every URL answers GET with 200) and `port_open(port)`
  (the port accepts a TCP connection);
- `ManagedProcess` starts a command in its own session (process group) with its output in
  files or discarded, waits until its readiness check passes (failing fast, with the output,
  when the process exits first), and stops it: a polite signal (SIGTERM), then, past a
  timeout, SIGKILL to its whole group, so gunicorn's workers never outlive a killed master.
  It is a context manager: `with ManagedProcess(...) as api:` starts, waits and stops;
- `wait_all_ready(...)` / `stop_all(...)` do the same for several processes at once (started
  together, waited for together);
- `stop_process(...)` is the stop for a bare `subprocess.Popen`.

Laptop and test code only: nothing a deployment runs imports `taskboard.embedded` (the
import-linter contract "production-free-of-embedded" in pyproject.toml).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

LOCALHOST = "127.0.0.1"

ReadyCheck = Callable[[], bool]
"""True once the process serves; called repeatedly until it is, or the time is up."""


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port on `host` that nothing listens on (the kernel's pick; free when returned,
    so a caller should bind it soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def taskboard_command(*args: str) -> list[str]:
    """The argv of `taskboard ARGS...` run by this interpreter (the same virtualenv)."""
    return [sys.executable, "-m", "taskboard.cli", *args]


def port_open(port: int, host: str = LOCALHOST, timeout: float = 0.2) -> ReadyCheck:
    """A readiness check: `host:port` accepts a TCP connection."""

    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout):
                return True
        except OSError:
            return False

    return check


def http_ok(*urls: str, timeout: float = 2.0) -> ReadyCheck:
    """A readiness check: a GET of each URL, in order, answers 200. A connection refused, a
    timeout or any other HTTP error counts as not ready yet."""
    if not urls:
        raise ValueError("http_ok needs at least one URL")

    def check() -> bool:
        import httpx  # here: `taskboard.cli` imports this package, and needs no HTTP client

        try:
            with httpx.Client(timeout=timeout, verify=_tls_context()) as client:
                return all(client.get(url).status_code == 200 for url in urls)
        except httpx.HTTPError:
            return False

    return check


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once: building one per probe costs ~20 ms of CPU,
    which a probe every 100 ms would take from the very process it waits for."""
    import httpx

    return httpx.create_ssl_context()


def stop_process(
    process: subprocess.Popen[Any],
    *,
    sig: int | None = signal.SIGTERM,
    timeout: float = 30.0,
    group: bool = False,
) -> bool:
    """Stop `process`: send it `sig` if it still runs (None: it was signalled already), wait
    up to `timeout` seconds, then SIGKILL it (with `group`, its whole process group) and reap
    it. Returns True when it had to be killed; its exit status is `process.returncode`.

    Only the process itself gets `sig`: a server such as gunicorn drains and stops its own
    workers.
    """
    if process.poll() is None:
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process, group=group)
            process.wait()
            return True
    return False


def _kill(process: subprocess.Popen[Any], *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()


class ProcessFailed(RuntimeError):
    """A managed process exited before it was ready, or was not ready in time. The message
    ends with the tail of its captured output."""


@dataclass(frozen=True)
class Exited:
    """How a managed process ended and what it wrote (empty where output was discarded; with
    stdout and stderr in one file, all of it is in `stdout`)."""

    returncode: int
    killed: bool  # it did not stop within the timeout and was SIGKILLed
    stdout: str
    stderr: str


class ManagedProcess:
    """One child process: `start()`, `wait_ready()`, `stop()` (or all three as a context
    manager).

    The process runs in a session of its own, so SIGKILL reaches everything it started in its
    process group, and a terminal's Ctrl-C reaches only the parent (which then stops it).
    `stdout` / `stderr` are files for its output (None: discarded; the same path for both:
    one interleaved file). Files, not pipes: a chatty process can never block on a full pipe.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdout: Path | None = None,
        stderr: Path | None = None,
        ready: ReadyCheck | None = None,
        ready_timeout: float = 60.0,
        poll_interval: float = 0.2,
        stop_timeout: float = 30.0,
    ) -> None:
        self.command = list(command)
        self.name = name or " ".join(self.command)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.stdout = stdout
        self.stderr = stderr
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.poll_interval = poll_interval
        self.stop_timeout = stop_timeout
        self.exited: Exited | None = None  # set by stop()
        self._popen: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> Self:
        """Start the process (not waiting for it to be ready); returns self."""
        if self._popen is not None:
            raise RuntimeError(f"{self.name} was already started")
        with contextlib.ExitStack() as files:
            out = self._open(files, self.stdout)
            err: IO[bytes] | int
            if self.stderr is not None and self.stderr == self.stdout:
                err = subprocess.STDOUT
            else:
                err = self._open(files, self.stderr)
            # The child holds its own descriptors: ours close when the stack unwinds.
            self._popen = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        return self

    @staticmethod
    def _open(files: contextlib.ExitStack, path: Path | None) -> IO[bytes] | int:
        if path is None:
            return subprocess.DEVNULL
        return files.enter_context(path.open("wb"))

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until the readiness check passes (`ready_timeout` unless `timeout` is given).
        Raises ProcessFailed when the process exits first or the time runs out."""
        wait_all_ready([self], timeout)

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float | None = None) -> Exited:
        """`sig` (SIGTERM), up to `timeout` (`stop_timeout`) seconds for the process to exit,
        then SIGKILL to its process group. Safe to call again; returns how it ended."""
        return self._stop(sig, timeout)

    def _stop(self, sig: int | None, timeout: float | None) -> Exited:
        if self.exited is None:
            wait = self.stop_timeout if timeout is None else timeout
            killed = stop_process(self.popen, sig=sig, timeout=wait, group=True)
            self._ended(killed=killed)
        assert self.exited is not None
        return self.exited

    def _ended(self, *, killed: bool) -> None:
        self.exited = Exited(
            returncode=int(self.popen.returncode),
            killed=killed,
            stdout=self.stdout_text(),
            stderr=self.stderr_text(),
        )

    def kill(self, timeout: float = 10.0) -> int:
        """SIGKILL the whole process group, even after the leader exited (what it started
        may still run), and reap the leader; returns its exit status."""
        had_exited = self.popen.poll() is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        code = self.popen.wait(timeout=timeout)
        if self.exited is None:
            self._ended(killed=not had_exited)
        return code

    def __enter__(self) -> Self:
        if self._popen is None:
            self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ the process

    @property
    def started(self) -> bool:
        return self._popen is not None

    @property
    def popen(self) -> subprocess.Popen[bytes]:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was not started")
        return self._popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    # ------------------------------------------------------------------ its output

    def stdout_text(self) -> str:
        return _read(self.stdout)

    def stderr_text(self) -> str:
        return "" if self.stderr == self.stdout else _read(self.stderr)

    def output_tail(self, chars: int = 3000) -> str:
        """The last `chars` characters of each captured stream, labelled when there are two."""
        if self.stderr is None or self.stderr == self.stdout:
            return self.stdout_text()[-chars:]
        if self.stdout is None:
            return self.stderr_text()[-chars:]
        return f"stdout:\n{self.stdout_text()[-chars:]}\nstderr:\n{self.stderr_text()[-chars:]}"


def _read(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_text(errors="replace")


def wait_all_ready(processes: Sequence[ManagedProcess], timeout: float | None = None) -> None:
    """Wait for several started processes at once, each until its readiness check passes.

    `timeout` bounds the whole wait (default: the largest `ready_timeout`). Raises
    ProcessFailed, naming the process and ending with its output, as soon as one exits, or
    naming every process still pending when the time is up.
    """
    if not processes:
        return
    limit = max(p.ready_timeout for p in processes) if timeout is None else timeout
    interval = min(p.poll_interval for p in processes)
    deadline = time.monotonic() + limit
    pending = list(processes)
    while True:
        for process in list(pending):
            code = process.poll()
            if code is not None:
                raise ProcessFailed(
                    f"{process.name} exited with {code} before it was ready\n"
                    f"{process.output_tail()}"
                )
            if process.ready is None or process.ready():
                pending.remove(process)
        if not pending:
            return
        if time.monotonic() >= deadline:
            tails = "\n".join(f"--- {p.name}:\n{p.output_tail()}" for p in pending)
            names = ", ".join(p.name for p in pending)
            raise ProcessFailed(f"not ready within {limit:g}s: {names}\n{tails}")
        time.sleep(interval)


def stop_all(
    processes: Iterable[ManagedProcess], *, sig: int = signal.SIGTERM, timeout: float | None = None
) -> list[Exited]:
    """Stop several processes: all get `sig` first, so they shut down in parallel, then each
    is waited for (and killed past its timeout) in turn. Processes never started are skipped."""
    started = [p for p in processes if p.started]
    for process in started:
        if process.exited is None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.popen.send_signal(sig)
    return [process._stop(None, timeout) for process in started]
