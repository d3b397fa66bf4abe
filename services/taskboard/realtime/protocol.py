"""The WebSocket protocol's messages and close codes (documented in docs/realtime-protocol.md)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from taskboard.notifications.schemas import NotificationRead
from taskboard.transfer.schemas import ImportJobRead

CLOSE_PROTOCOL_ERROR = 4000  # a frame that is not a JSON message of this protocol, before auth
CLOSE_AUTH_FAILED = 4001  # the token is missing, invalid or expired
CLOSE_AUTH_TIMEOUT = 4002  # no auth message within TASKBOARD_WS_AUTH_TIMEOUT_SECONDS
CLOSE_SESSION_ENDED = 4003  # logout, logout everywhere, password change or a revoked login
CLOSE_TOKEN_EXPIRED = 4004  # the token expired and no fresh `auth` message came before
CLOSE_TOO_MANY_SOCKETS = 4009  # the user already holds TASKBOARD_WS_MAX_SOCKETS_PER_USER here
CLOSE_SLOW_CONSUMER = 4008  # the send queue overflowed; reconnect and resume with `since`
CLOSE_SERVICE_RESTART = 1012  # the pod is shutting down; reconnect (to any pod)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Auth(_Message):
    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=8192)]


class Subscribe(_Message):
    type: Literal["subscribe"]
    board_id: uuid.UUID
    since: Annotated[int, Field(ge=0)] | None = None
    # The epoch `since` counts in (from the snapshot or an earlier `subscribed`).
    epoch: Annotated[str, Field(min_length=1, max_length=16)] | None = None


class Unsubscribe(_Message):
    type: Literal["unsubscribe"]
    board_id: uuid.UUID


class Ping(_Message):
    type: Literal["ping"]
    id: str | int | None = None


ClientMessage = Annotated[Auth | Subscribe | Unsubscribe | Ping, Field(discriminator="type")]
_PARSER: TypeAdapter[Auth | Subscribe | Unsubscribe | Ping] = TypeAdapter(ClientMessage)


def parse(raw: str) -> Auth | Subscribe | Unsubscribe | Ping:
    """Raises ValueError (pydantic's ValidationError is one) on anything else."""
    return _PARSER.validate_json(raw)


def frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, separators=(",", ":"), default=str)


def event_frame(board_id: uuid.UUID, seq: int, event: str, data: Any, ts: str) -> str:
    return frame("event", board_id=str(board_id), seq=seq, event=event, data=data, ts=ts)


# ---- what the server sends: the models the AsyncAPI document (realtime/asyncapi.py) is made
# from. Frames are written by frame()/event_frame() on the hot path; the tests validate every
# frame they receive against these, so the document and the wire cannot part.


class _ServerMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Authenticated(_ServerMessage):
    """Authentication (or renewal) accepted; renew with a fresh `auth` before `expires_at`."""

    type: Literal["authenticated"]
    user_id: uuid.UUID
    expires_at: str | None = Field(None, description="ISO 8601; null: the token has none")


class Subscribed(_ServerMessage):
    """The subscription is active as of `seq` (counted in `epoch`); replayed events follow."""

    type: Literal["subscribed"]
    board_id: uuid.UUID
    seq: int
    epoch: str


class Event(_ServerMessage):
    """One board event: per subscription, seq is strictly increasing and gap-free."""

    type: Literal["event"]
    board_id: uuid.UUID
    seq: int
    event: str = Field(description="e.g. task.created; the list is in realtime-protocol.md")
    data: dict[str, Any]
    ts: str = Field(description="when it was written, UTC, ISO 8601")


class Resync(_ServerMessage):
    """What you missed is not replayable (too much, or another history): reload the board."""

    type: Literal["resync"]
    board_id: uuid.UUID


class PresenceFrame(_ServerMessage):
    """Who is viewing the board (any pod)."""

    type: Literal["presence"]
    board_id: uuid.UUID
    users: list[uuid.UUID]


class NotificationFrame(_ServerMessage):
    """A new notification for this socket's user (no subscription needed): the same object
    `GET /api/v1/notifications` lists. Best effort: after a reconnect, reload the list."""

    type: Literal["notification"]
    notification: NotificationRead


class ImportJobFrame(_ServerMessage):
    """Your board import moved (no subscription needed): the same object `GET
    /api/v1/imports/{id}` answers, sent when it starts, after each batch written, and when it
    is done (with `board_id`) or failed. Best effort: after a reconnect, GET the import."""

    type: Literal["import_job"]
    job: ImportJobRead


class Unsubscribed(_ServerMessage):
    type: Literal["unsubscribed"]
    board_id: uuid.UUID
    reason: Literal["requested", "removed", "board_deleted"]


class Pong(_ServerMessage):
    type: Literal["pong"]
    id: str | int | None = None


class Error(_ServerMessage):
    """A refused message; the socket stays open."""

    type: Literal["error"]
    code: Literal["not_found", "bad_message", "too_many_subscriptions", "wrong_user"]
    board_id: uuid.UUID | None = None
    detail: str | None = None
    limit: int | None = None


ServerMessage = Annotated[
    Authenticated
    | Subscribed
    | Event
    | Resync
    | PresenceFrame
    | NotificationFrame
    | ImportJobFrame
    | Unsubscribed
    | Pong
    | Error,
    Field(discriminator="type"),
]
SERVER_MESSAGES: TypeAdapter[Any] = TypeAdapter(ServerMessage)

CLOSE_CODES = {
    CLOSE_PROTOCOL_ERROR: "the first frame was not an `auth` message",
    CLOSE_AUTH_FAILED: "authentication failed (invalid or expired token)",
    CLOSE_AUTH_TIMEOUT: "no authentication within the timeout",
    CLOSE_SESSION_ENDED: "the session ended (logout, password change, revoked login)",
    CLOSE_TOKEN_EXPIRED: "the token expired and no fresh `auth` came before",
    CLOSE_SLOW_CONSUMER: "slow consumer: resume with the last seq seen",
    CLOSE_TOO_MANY_SOCKETS: "the user holds too many sockets on this pod",
    CLOSE_SERVICE_RESTART: "the pod is restarting: reconnect to any pod",
}
