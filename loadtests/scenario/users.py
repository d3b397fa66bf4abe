"""The users: `RestUser` works on the shared boards through the REST API, `SocketUser` holds one
WebSocket subscribed to them and reports every frame, the write → frame latency of the tokens
the writers put in their writes, and any break in a subscription's seq as a failure.

Every request is named by its route template, so Locust's statistics group them."""

from __future__ import annotations

import contextlib
import json
import logging
import platform
import random
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any

import gevent
from gevent.lock import Semaphore
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner, WorkerRunner

from .correlation import Pending, Token, find_token, new_token
from .options import option
from .shared import API, PASSWORD, SHARED, SetupError, register_messages
from .stream import SeqRepeat, StreamError, Streams
from .wsclient import Closed, Socket, ws_url

log = logging.getLogger(__name__)

REGISTER = f"{API}/auth/register"
LOGIN = f"{API}/auth/login"
REFRESH = f"{API}/auth/refresh"
MEMBERS = f"{API}/boards/{{board_id}}/members"
BOARDS = f"{API}/boards"
SNAPSHOT = f"{API}/boards/{{board_id}}"
TASKS = f"{API}/boards/{{board_id}}/tasks"
TASK = f"{API}/tasks/{{task_id}}"
MOVE = f"{API}/tasks/{{task_id}}/move"
COMMENTS = f"{API}/tasks/{{task_id}}/comments"
NOTIFICATIONS = f"{API}/notifications"
UNREAD = f"{API}/notifications/unread-count"
READ_ALL = f"{API}/notifications/read-all"

# What the REST mix sends (the smoke test checks each shows up in the statistics).
REST_ROUTES = [
    ("POST", REGISTER),
    ("POST", LOGIN),
    ("POST", MEMBERS),
    ("GET", BOARDS),
    ("GET", SNAPSHOT),
    ("POST", TASKS),
    ("POST", MOVE),
    ("PATCH", TASK),
    ("POST", COMMENTS),
    ("GET", NOTIFICATIONS),
    ("GET", UNREAD),
    ("POST", READ_ALL),
]

WS = "WS"
WRITE_TO_FRAME = "write→frame"
STORM = "taskboard_storm"

WORDS = (
    *("review", "deploy", "write", "draft", "migrate", "fix", "refactor", "document", "test"),
    *("plan", "release", "triage", "design", "profile", "measure", "cache", "index", "rollout"),
)
PRIORITIES = ("none", "low", "medium", "high", "urgent")

PENDING = Pending()
SOCKETS: weakref.WeakSet[SocketUser] = weakref.WeakSet()
_reader_ids = count(1)


class SetupFailed(Exception):
    """A step of signing in or joining failed (already reported as a failed request)."""


class MissingFrame(Exception):
    pass


def _title(token: Token) -> str:
    return f"{random.choice(WORDS).capitalize()} {random.choice(WORDS)} {token.text}"


def _refuse(response: Any) -> None:
    """Marks a caught response failed with what went wrong: the connection's error, or the
    status and the start of the problem document."""
    error = getattr(response, "error", None)
    response.failure(error or f"{response.status_code}: {(response.text or '')[:200]}")


def _ms(seconds: float) -> float:
    # Wall clocks of two processes (or machines) can disagree by a little: never negative.
    return max(0.0, seconds * 1000)


class TaskboardUser(FastHttpUser):
    """Signs up and in once, joins the shared boards, and keeps its access token fresh."""

    abstract = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.email = f"locust-{random.getrandbits(64):016x}@example.com"
        self.registered = False
        self.access: str | None = None
        self.refresh_token: str | None = None
        self.expires_at = 0.0
        self.boards: list[str] = []
        self.ready = False  # on the boards; `access` None: signed out (sign in again)
        # A refresh token is good for one use: a second refresh with it ends the session.
        self.renewing = Semaphore()

    def on_start(self) -> None:
        self.prepare()

    def prepare(self) -> bool:
        """Signed in and on the boards; tried again by the next task after a failure (whose
        request is already in the statistics), paced by the user's wait time."""
        try:
            self.sign_in()
            if not self.ready:
                self.join()
                self.ready = True
                self.on_ready()
        except SetupFailed:
            return False
        return True

    def on_ready(self) -> None:
        pass

    # ---------------------------------------------------------------- account

    def _post_json(self, path: str, name: str, body: Any, expect: int, **kw: Any) -> Any:
        response = self.client.request("POST", path, name=name, json=body, **kw)
        if response.status_code != expect:
            raise SetupFailed(name)
        return response.json()

    def sign_in(self) -> None:
        if self.access is not None:
            return
        if not self.registered:
            body = {"email": self.email, "password": PASSWORD, "display_name": "Locust"}
            with self.client.request(
                "POST", REGISTER, name=REGISTER, json=body, catch_response=True
            ) as response:
                # 409: the address is taken, by this user's own earlier try whose answer was
                # lost (the addresses are random): signing in tells.
                if response.status_code not in (201, 409):
                    _refuse(response)
                    raise SetupFailed(REGISTER)
                response.success()
            self.registered = True
        credentials = {"email": self.email, "password": PASSWORD}
        self._tokens(self._post_json(LOGIN, LOGIN, credentials, 200))

    def _tokens(self, pair: dict[str, Any]) -> None:
        self.access = pair["access_token"]
        self.refresh_token = pair["refresh_token"]
        self.expires_at = time.time() + float(pair["expires_in"])

    def renew_if_due(self) -> bool:
        """Refreshes the access token a minute before it expires; True when it did."""
        with self.renewing:
            if self.access is None or time.time() < self.expires_at - 60:
                return False
            try:
                self._tokens(
                    self._post_json(REFRESH, REFRESH, {"refresh_token": self.refresh_token}, 200)
                )
            except SetupFailed:
                self.access = None  # signed in again by the next step
            return True

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def join(self) -> None:
        boards = option(self.environment, "boards", 5)
        try:
            seed = SHARED.get(self.environment, boards)
            owner = SHARED.owner_token(self.environment.host.rstrip("/"))
        except (SetupError, OSError) as exc:
            self.environment.events.request.fire(
                request_type="SETUP",
                name="shared boards",
                response_time=0,
                response_length=0,
                exception=exc,
            )
            raise SetupFailed("shared boards") from exc
        for board_id in seed.boards:
            if board_id in self.boards:
                continue
            with self.client.request(
                "POST",
                MEMBERS.format(board_id=board_id),
                name=MEMBERS,
                json={"email": self.email, "role": "member"},
                headers={"Authorization": f"Bearer {owner}"},
                catch_response=True,
            ) as response:
                # 409 already-member: an earlier try got this far.
                if response.status_code in (201, 409):
                    response.success()
                    self.boards.append(board_id)
                else:
                    if response.status_code == 401:
                        SHARED.forget_owner_token()
                    _refuse(response)
                    raise SetupFailed(MEMBERS)


# -------------------------------------------------------------------- REST


@dataclass
class BoardView:
    """What one user knows of a board: from its last snapshot and its own writes."""

    columns: list[str] = field(default_factory=lambda: ["todo", "in_progress", "done"])
    members: list[str] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)  # id -> status (column key)
    full: bool = False


class RestUser(TaskboardUser):
    """A person working on the boards: mostly reading, with creates, moves, edits, comments."""

    weight = 3

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.views: dict[str, BoardView] = {}
        self.newest_seen: str | None = None  # notification

    def wait_time(self) -> float:
        low = option(self.environment, "think_min", 1.0)
        high = option(self.environment, "think_max", 4.0)
        return random.uniform(low, max(low, high))

    def on_ready(self) -> None:
        # Signing in lands on a board.
        self.open_board()

    def _view(self, board_id: str) -> BoardView:
        return self.views.setdefault(board_id, BoardView())

    def _known_task(self) -> tuple[str, str, BoardView] | None:
        known = [(board, view) for board, view in self.views.items() if view.tasks]
        if not known:
            return None
        board_id, view = random.choice(known)
        return board_id, random.choice(list(view.tasks)), view

    def _target(self) -> tuple[str, str, BoardView] | None:
        """A known task to act on, once signed in; with none known yet, the user opens a board
        (which teaches it some) and this turn ends there."""
        if not self._ready():
            return None
        known = self._known_task()
        if known is None:
            self.open_board()
        return known

    def _tracked(self, kind: str, board_id: str, ok: int, send: Callable[[Token], Any]) -> Any:
        """A write whose event the socket users wait for: its correlation token is pending
        from just before the request until its frame arrives, or dropped when refused."""
        token = new_token(kind)
        PENDING.sent(token, board_id)
        response = send(token)
        if response.status_code != ok:
            PENDING.failed(token)
        return response

    def _ready(self) -> bool:
        self.renew_if_due()
        return self.prepare()

    @task(6)
    def open_board(self) -> None:
        if not self._ready():
            return
        board_id = random.choice(self.boards)
        response = self.client.get(
            SNAPSHOT.format(board_id=board_id), name=SNAPSHOT, headers=self.auth
        )
        if response.status_code != 200:
            return
        snapshot = response.json()
        view = self._view(board_id)
        view.columns = [c["key"] for c in snapshot["columns"]] or view.columns
        view.members = [m["user_id"] for m in snapshot["members"]]
        view.tasks = {t["id"]: t["status"] for t in snapshot["tasks"]}
        view.full = len(view.tasks) >= option(self.environment, "max_tasks_per_board", 1000)

    @task(3)
    def list_boards(self) -> None:
        if not self._ready():
            return
        self.client.get(f"{BOARDS}?limit=50", name=BOARDS, headers=self.auth)

    @task(3)
    def create_task(self) -> None:
        if not self._ready():
            return
        open_boards = [b for b in self.boards if not self._view(b).full]
        if not open_boards:
            self.edit_task()
            return
        board_id = random.choice(open_boards)
        view = self._view(board_id)
        extra: dict[str, Any] = {}
        if view.members and random.random() < 0.25:
            # Assignments notify: the notification reads below then have something to read.
            extra["assignee_ids"] = [random.choice(view.members)]
        response = self._tracked(
            "task.created",
            board_id,
            201,
            lambda token: self.client.post(
                TASKS.format(board_id=board_id),
                name=TASKS,
                json={"title": _title(token), "priority": random.choice(PRIORITIES), **extra},
                headers=self.auth,
            ),
        )
        if response.status_code != 201:
            if response.status_code == 409:
                view.full = True  # the board's task quota
            return
        created = response.json()
        view.tasks[created["id"]] = created["status"]
        if len(view.tasks) >= option(self.environment, "max_tasks_per_board", 1000):
            view.full = True

    @task(3)
    def move_task(self) -> None:
        if (known := self._target()) is None:
            return
        _, task_id, view = known
        targets = [c for c in view.columns if c != view.tasks[task_id]] or view.columns
        status = random.choice(targets)
        response = self.client.post(
            MOVE.format(task_id=task_id), name=MOVE, json={"status": status}, headers=self.auth
        )
        if response.status_code == 200:
            view.tasks[task_id] = response.json()["status"]

    @task(2)
    def edit_task(self) -> None:
        if (known := self._target()) is None:
            return
        board_id, task_id, _ = known
        self._tracked(
            "task.updated",
            board_id,
            200,
            lambda token: self.client.patch(
                TASK.format(task_id=task_id),
                name=TASK,
                json={"title": _title(token), "priority": random.choice(PRIORITIES)},
                headers=self.auth,
            ),
        )

    @task(2)
    def comment(self) -> None:
        if (known := self._target()) is None:
            return
        board_id, task_id, _ = known
        self._tracked(
            "comment.created",
            board_id,
            201,
            lambda token: self.client.post(
                COMMENTS.format(task_id=task_id),
                name=COMMENTS,
                json={"body": f"Looked at it, {random.choice(WORDS)} next. {token.text}"},
                headers=self.auth,
            ),
        )

    @task(2)
    def notifications(self) -> None:
        if not self._ready():
            return
        response = self.client.get(
            f"{NOTIFICATIONS}?limit=20", name=NOTIFICATIONS, headers=self.auth
        )
        if response.status_code == 200 and (items := response.json()["items"]):
            self.newest_seen = items[0]["id"]

    @task(2)
    def unread_count(self) -> None:
        if self._ready():
            self.client.get(UNREAD, name=UNREAD, headers=self.auth)

    @task(1)
    def read_all(self) -> None:
        # Up to the newest one this user has seen: one that arrived since stays unread.
        if self._ready():
            body = {"up_to": self.newest_seen} if self.newest_seen else {}
            self.client.post(READ_ALL, name=READ_ALL, json=body, headers=self.auth)


# -------------------------------------------------------------------- WebSocket


class SocketUser(TaskboardUser):
    """A browser tab left open on the boards: one socket, subscribed to the shared boards,
    reconnecting after a drop and resuming each board with `since` = the last seq it saw."""

    weight = 1
    wait_time = between(4, 6)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.reader = next(_reader_ids)
        self.socket: Socket | None = None
        self.streams: Streams | None = None
        self.receiver: gevent.Greenlet | None = None
        self.stopping = False
        self.dropped_by_us = False
        self.reconnect_delay = 0.0
        self.dropped_at: float | None = None  # perf_counter of the drop being recovered
        self.sent_at: dict[str, float] = {}  # what a reply answers -> perf_counter sent
        self.pings = count(1)
        self.events_seen = 0

    # ---------------------------------------------------------------- reporting

    def _fire(
        self,
        name: str,
        response_time: float = 0.0,
        length: int = 0,
        exception: Exception | None = None,
        request_type: str = WS,
    ) -> None:
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=response_time,
            response_length=length,
            exception=exception,
            context={},
        )

    def _since_sent(self, key: str) -> float:
        sent = self.sent_at.pop(key, None)
        return 0.0 if sent is None else _ms(time.perf_counter() - sent)

    # ---------------------------------------------------------------- lifecycle

    def on_ready(self) -> None:
        if self.streams is not None:
            return
        wanted = option(self.environment, "ws_boards", 0)
        boards = (
            random.sample(self.boards, min(wanted, len(self.boards)))
            if wanted > 0
            else list(self.boards)
        )
        self.streams = Streams(boards)
        SOCKETS.add(self)
        _start_sweeper(self.environment)
        if not self.connect():
            self.dropped_at = time.perf_counter()
        self.receiver = gevent.spawn(self._receive)

    def on_stop(self) -> None:
        self.stopping = True
        SOCKETS.discard(self)
        PENDING.forget_reader(self.reader)
        if self.receiver is not None:
            self.receiver.kill(block=False)
        if self.socket is not None:
            self.socket.close()

    def connect(self) -> bool:
        """Open, authenticate and (re)subscribe; False (reported) when it could not."""
        assert self.streams is not None
        url = ws_url(self.environment.host, option(self.environment, "ws_url", ""))
        started = time.perf_counter()
        sock: Socket | None = None
        try:
            sock = Socket(url)
            sock.send({"type": "auth", "token": self.access})
            reply = json.loads(sock.recv())
            if reply.get("type") != "authenticated":
                raise Closed(4001, f"answered {raw_type(reply)} to auth")
            sock.settle()
            self._fire("connect", _ms(time.perf_counter() - started))
            for message in self.streams.subscribe_messages():
                self.sent_at["subscribe:" + message["board_id"]] = time.perf_counter()
                sock.send(message)
        except (Closed, ValueError) as exc:
            if sock is not None:
                sock.close()
            self._fire("connect", _ms(time.perf_counter() - started), exception=exc)
            if isinstance(exc, Closed) and exc.code in (4001, 4003, 4004):
                self.access = None  # sign in again
            return False
        self.socket = sock
        return True

    def storm(self, jitter: float) -> None:
        """Part of a reconnect storm: drop now, come back after up to `jitter` seconds."""
        if self.socket is None or self.stopping:
            return
        self.dropped_by_us = True
        self.reconnect_delay = random.uniform(0, jitter)
        self.socket.drop()
        # Counted, so that the reconnects can be held against the drops.
        self._fire("storm drop")

    def _receive(self) -> None:
        while not self.stopping:
            try:
                self._receive_one()
            except Exception as exc:
                # Whatever went wrong, this greenlet is the socket's only reader: report it
                # and carry on rather than leave the user deaf for the rest of the run.
                self._fire("receive", exception=exc)
                gevent.sleep(1.0)

    def _receive_one(self) -> None:
        if self.socket is None:
            self._reconnect()
            return
        try:
            raw = self.socket.recv()
        except Closed as closed:
            if self.stopping:
                return
            self.dropped_at = time.perf_counter()
            if not self.dropped_by_us:
                # The server's doing (a restart, a slow-consumer close, a network drop): the
                # resume is what is tested, but the drop itself is news.
                self._fire(f"close {closed.code}", exception=closed)
                self.reconnect_delay = 0.5
                if closed.code in (4001, 4004):
                    self.expires_at = 0  # refresh before reconnecting
            self.dropped_by_us = False
            self.socket = None
            return
        try:
            self._handle(raw)
        except (ValueError, KeyError, TypeError) as exc:  # an unreadable frame
            self._fire("frame", 0, len(raw), exception=exc)

    def _reconnect(self) -> None:
        delay = self.reconnect_delay
        while not self.stopping:
            gevent.sleep(delay)
            self.renew_if_due()
            if not self.prepare() or not self.connect():
                delay = min(max(delay * 2, 0.5), 10.0)
                continue
            return

    # ---------------------------------------------------------------- frames

    def _handle(self, raw: str) -> None:
        assert self.streams is not None
        wall = time.time()
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "event":
            self._event(frame, raw, wall)
        elif kind == "subscribed":
            board_id = frame["board_id"]
            self.streams.subscribed(board_id, frame["seq"], frame["epoch"])
            PENDING.subscribed(board_id, self.reader)
            self._fire("subscribed", self._since_sent("subscribe:" + board_id), len(raw))
            if self.dropped_at is not None and self.streams.all_active():
                self._fire("reconnect", _ms(time.perf_counter() - self.dropped_at))
                self.dropped_at = None
        elif kind == "pong":
            self._fire("pong", self._since_sent(f"ping:{frame.get('id')}"), len(raw))
        elif kind == "authenticated":
            self._fire("authenticated", self._since_sent("auth"), len(raw))
        elif kind == "resync":
            self._fire("resync", 0, len(raw))
            self._resync(frame["board_id"])
        elif kind in ("error", "unsubscribed"):
            # Neither happens to a member subscribed to its boards: it is a defect here.
            self._fire(kind, 0, len(raw), exception=StreamError(raw[:300]))
        else:  # presence, notification, import_job
            self._fire(str(kind), 0, len(raw))

    def _event(self, frame: dict[str, Any], raw: str, wall: float) -> None:
        assert self.streams is not None
        self.events_seen += 1
        every = option(self.environment, "drop_frames_every", 0)
        if every and self.events_seen % every == 0:
            return  # fault injection: this frame is "lost"
        ts = frame.get("ts")
        behind = 0.0
        if ts:
            behind = _ms(wall - _timestamp(ts))
        try:
            state = self.streams.event(frame["board_id"], frame["seq"])
        except SeqRepeat as exc:
            self._fire("event", behind, len(raw), exception=exc)
            return
        except StreamError as exc:
            # A gap: reported, and the frame itself still counts below.
            self._fire("event", behind, len(raw), exception=exc)
            state = "live"
        if state == "ignored":
            return
        self._fire("event", behind, len(raw))
        token = find_token(frame.get("event", ""), raw)
        if token is not None:
            PENDING.seen(token, self.reader)
            name = token.event + (" (replayed)" if state == "replayed" else "")
            self._fire(name, _ms(wall - token.sent_at), len(raw), request_type=WRITE_TO_FRAME)

    def _resync(self, board_id: str) -> None:
        """Too much missed to replay: reload the board, carry on after the snapshot's seq."""
        assert self.streams is not None
        PENDING.forget_reader(self.reader, board_id)
        response = self.client.get(
            SNAPSHOT.format(board_id=board_id), name=SNAPSHOT, headers=self.auth
        )
        if response.status_code == 200:
            snapshot = response.json()
            self.streams.resync(board_id, snapshot["seq"], snapshot["epoch"])
        PENDING.subscribed(board_id, self.reader)

    # ---------------------------------------------------------------- tasks

    @task
    def ping(self) -> None:
        if not self.prepare() or self.socket is None:
            return
        if self.renew_if_due() and self.access is not None:
            # The socket lives no longer than its token unless told the fresh one.
            self.sent_at["auth"] = time.perf_counter()
            self._send({"type": "auth", "token": self.access})
        ping_id = next(self.pings)
        self.sent_at[f"ping:{ping_id}"] = time.perf_counter()
        self._send({"type": "ping", "id": ping_id})

    def _send(self, message: dict[str, Any]) -> None:
        if self.socket is not None:
            # A send into a dropped socket: the receiving greenlet sees the drop and reconnects.
            with contextlib.suppress(Closed):
                self.socket.send(message)


def raw_type(message: Any) -> str:
    return str(message.get("type")) if isinstance(message, dict) else type(message).__name__


def _timestamp(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


# -------------------------------------------------------------------- process-wide


_sweeper: gevent.Greenlet | None = None


def _start_sweeper(environment: Any) -> None:
    """Once per process: writes that a socket of this process never saw become failures."""
    global _sweeper
    if _sweeper is not None:
        return

    def sweep() -> None:
        while True:
            gevent.sleep(1.0)
            timeout = option(environment, "frame_timeout", 30.0)
            for late in PENDING.overdue(timeout):
                environment.events.request.fire(
                    request_type=WRITE_TO_FRAME,
                    name=late.event,
                    response_time=late.age * 1000,
                    response_length=0,
                    exception=MissingFrame(
                        f"{late.readers} socket(s) got no frame within {timeout:g} s"
                    ),
                    context={},
                )

    _sweeper = gevent.spawn(sweep)


def storm_now(environment: Any, jitter: float) -> None:
    """Every socket of this process drops at once and resumes (after up to `jitter` s)."""
    sockets = list(SOCKETS)
    log.info("reconnect storm: dropping %d sockets", len(sockets))
    for user in sockets:
        user.storm(jitter)


def machine() -> str:
    """The load generator's machine, as the benchmarks describe theirs (benchkit is not there
    in the cluster's ConfigMap: then Python's own description)."""
    try:
        from loadtests.benchkit.host import machine_summary

        return machine_summary()
    except (ImportError, OSError):
        return f"{platform.platform()}, Python {platform.python_version()}"


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        log.info("load generator: %s", machine())


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    RestUser.weight = option(environment, "rest_weight", RestUser.weight)
    SocketUser.weight = option(environment, "ws_weight", SocketUser.weight)
    if option(environment, "shape", None) and environment.shape_class is None:
        log.warning("--shape does nothing without a shape: -f loadtests/scenario/shapes.py")
    runner = environment.runner
    if runner is None:
        return
    register_messages(environment, option(environment, "boards", 5))
    if not isinstance(runner, MasterRunner):
        runner.register_message(
            STORM, lambda environment, msg, **_: storm_now(environment, msg.data["jitter"])
        )
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is not None:

        @web_ui.app.route("/storm", methods=["POST"])
        def storm_route() -> tuple[str, int]:
            # A storm by hand, at any moment of any run: curl -X POST <web ui>/storm
            runner.send_message(STORM, {"jitter": option(environment, "storm_jitter", 1.0)})
            return "storm sent\n", 202
