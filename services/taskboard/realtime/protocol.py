"""The WebSocket protocol's messages and close codes (documented in docs/realtime-protocol.md)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

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
