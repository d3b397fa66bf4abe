"""The boards every user of a run shares, made once per run by a seeding account.

Writes and frames only meet when writers and sockets are on the same boards, and in distributed
mode they sit in different worker processes. So one process makes the boards: in a local run
the first user that needs them, in a distributed run the master, which hands them (and the
seeding account, which adds each user as a member) to every worker that asks. A worker that
joins late asks too. These setup requests go over plain `requests`, outside Locust's
statistics: they are the run's preparation, not load (adding members, which the users do, is).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import gevent
import requests
from gevent.event import Event
from gevent.lock import Semaphore
from locust.runners import MasterRunner, WorkerRunner

API = "/api/v1"
PASSWORD = "locust load test password"
REQUEST_TIMEOUT = 30.0
ASK = "taskboard_boards_request"
ANSWER = "taskboard_boards"

log = logging.getLogger(__name__)


class SetupError(Exception):
    pass


@dataclass(frozen=True)
class Seed:
    run: str
    owner_email: str
    owner_password: str
    boards: list[str]


def _call(
    session: requests.Session, method: str, url: str, expect: int, **kwargs: Any
) -> dict[str, Any]:
    for _ in range(5):
        response = session.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)
        if response.status_code == 429:
            # The target's login limit (TASKBOARD_RATE_LIMIT_AUTH_PER_IP): wait it out once or
            # twice; the users' own sign-ups will report it if it persists.
            gevent.sleep(float(response.headers.get("Retry-After", "5")))
            continue
        if response.status_code != expect:
            raise SetupError(
                f"{method} {url} answered {response.status_code}: {response.text[:300]}"
            )
        return dict(response.json())
    raise SetupError(f"{method} {url}: still rate limited (429) after 5 tries")


def login(host: str, email: str, password: str) -> str:
    with requests.Session() as session:
        body = _call(
            session,
            "POST",
            f"{host}{API}/auth/login",
            200,
            json={"email": email, "password": password},
        )
    return str(body["access_token"])


def create_seed(host: str, boards: int) -> Seed:
    """A fresh owner account and its `boards` boards, named after a new run id."""
    run = uuid.uuid4().hex[:8]
    email = f"locust-owner-{run}@example.com"
    with requests.Session() as session:
        _call(
            session,
            "POST",
            f"{host}{API}/auth/register",
            201,
            json={"email": email, "password": PASSWORD, "display_name": f"Locust {run}"},
        )
        token = login(host, email, PASSWORD)
        headers = {"Authorization": f"Bearer {token}"}
        ids = [
            str(
                _call(
                    session,
                    "POST",
                    f"{host}{API}/boards",
                    201,
                    json={"name": f"Locust {run} #{i + 1}", "description": "Locust load test"},
                    headers=headers,
                )["id"]
            )
            for i in range(boards)
        ]
    log.info("run %s: %d shared boards made by %s", run, boards, email)
    return Seed(run, email, PASSWORD, ids)


class SharedBoards:
    """This process's view of the run's boards and of the seeding account's session."""

    def __init__(self) -> None:
        self.seed: Seed | None = None
        self.error: str | None = None
        self._answered = Event()
        self._lock = Semaphore()
        self._owner_token: str | None = None
        self._owner_token_at = 0.0

    def get(self, environment: Any, boards: int, timeout: float = 60.0) -> Seed:
        if self.seed is not None:
            return self.seed
        if isinstance(environment.runner, WorkerRunner):
            return self._ask_master(environment, timeout)
        with self._lock:
            if self.seed is None:
                host = (environment.host or "").rstrip("/")
                if not host:
                    raise SetupError("no --host: where is taskboard?")
                try:
                    self.seed = create_seed(host, boards)
                except (requests.RequestException, SetupError) as exc:
                    raise SetupError(f"making the shared boards: {exc}") from exc
            return self.seed

    def _ask_master(self, environment: Any, timeout: float) -> Seed:
        deadline = time.monotonic() + timeout
        while self.seed is None:
            self.error = None
            self._answered.clear()
            environment.runner.send_message(ASK, {})
            # Asked again every few seconds: a message sent while the master was busy
            # starting is not lost for good.
            self._answered.wait(timeout=5)
            if self.error is not None:
                raise SetupError(f"the master could not make the shared boards: {self.error}")
            if time.monotonic() > deadline:
                raise SetupError("the master did not hand out the shared boards in time")
        return self.seed

    def answer(self, data: dict[str, Any]) -> None:
        """A worker's handler of the master's answer."""
        if "error" in data:
            self.error = str(data["error"])
        else:
            self.seed = Seed(**data)
        self._answered.set()

    def owner_token(self, host: str) -> str:
        """The seeding account's access token, to add members (signed in again well before
        it expires, or after `forget_owner_token`)."""
        assert self.seed is not None
        with self._lock:
            if self._owner_token is None or time.monotonic() - self._owner_token_at > 600:
                self._owner_token = login(host, self.seed.owner_email, self.seed.owner_password)
                self._owner_token_at = time.monotonic()
            return self._owner_token

    def forget_owner_token(self) -> None:
        self._owner_token = None


SHARED = SharedBoards()


def register_messages(environment: Any, boards: int) -> None:
    """The master answers workers' requests for the boards; workers take the answer."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):

        def on_ask(environment: Any, msg: Any, **_: Any) -> None:
            try:
                seed = SHARED.get(environment, boards)
            except SetupError as exc:
                log.error("%s", exc)
                runner.send_message(ANSWER, {"error": str(exc)}, client_id=msg.node_id)
                return
            runner.send_message(ANSWER, asdict(seed), client_id=msg.node_id)

        # concurrent: making the boards takes HTTP round trips, which must not stall the
        # master's message loop (heartbeats, stats).
        runner.register_message(ASK, on_ask, concurrent=True)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(ANSWER, lambda environment, msg, **_: SHARED.answer(msg.data))
