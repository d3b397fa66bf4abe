"""One socket's session: authenticate it (cookie, else a first `auth` message), then read its
messages until it goes, handing subscriptions to the hub."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from taskboard.auth.principal import Principal
from taskboard.realtime import metrics, protocol
from taskboard.realtime.hub import Hub
from taskboard.realtime.subscriber import Connection
from taskboard.realtime.wire import Wire


async def serve(hub: Hub, websocket: WebSocket, wire: Wire | None = None) -> None:
    """`wire`: the socket's transport, to write frames to directly (see wire.py)."""
    await websocket.accept()
    principal = await _handshake(hub, websocket)
    if principal is None:
        return
    settings = hub.settings
    connection = Connection(
        websocket, principal, settings.ws_send_queue_size, settings.ws_send_queue_bytes, wire
    )
    if not hub.admit(connection):
        await connection.stop()
        await websocket.close(protocol.CLOSE_TOO_MANY_SOCKETS, "too many open sockets")
        return
    metrics.CONNECTIONS.inc()
    try:
        await connection.send_now(_authenticated(principal))
        await _receive(hub, connection)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.release(connection)
        metrics.CONNECTIONS.dec()
        await connection.stop()
        for board_id in list(connection.subscriptions):
            await hub.leave(connection, board_id)


def _authenticated(principal: Principal) -> str:
    expires = principal.expires_at.isoformat() if principal.expires_at else None
    return protocol.frame("authenticated", user_id=str(principal.user_id), expires_at=expires)


def _origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Browsers always send Origin; it must be this host (scheme aside) or on the allow-list.
    Clients that send none are not browsers, and a cookie is no ambient authority for them."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed or "*" in allowed:
        return True
    host = websocket.headers.get("host")
    return host is not None and urlsplit(origin).netloc == host


async def _handshake(hub: Hub, websocket: WebSocket) -> Principal | None:
    """The access-token cookie, else an `auth` message within the timeout."""
    settings = hub.settings
    cookie = websocket.cookies.get(settings.access_cookie_name)
    if cookie and not _origin_allowed(websocket, settings.ws_allowed_origins):
        # A page on another site opened this socket with the user's cookie (cross-site
        # WebSocket hijacking): the cookie proves nothing; an `auth` frame still may.
        cookie = None
    if cookie:
        principal = await hub.reads.principal(cookie)
        if principal is not None:
            return principal
    try:
        raw = await asyncio.wait_for(
            websocket.receive_text(), timeout=settings.ws_auth_timeout_seconds
        )
    except TimeoutError:
        await websocket.close(protocol.CLOSE_AUTH_TIMEOUT, "authenticate within the timeout")
        return None
    except (WebSocketDisconnect, RuntimeError, KeyError):
        return None
    try:
        message = protocol.parse(raw)
    except ValueError:
        message = None
    if not isinstance(message, protocol.Auth):
        await websocket.close(protocol.CLOSE_PROTOCOL_ERROR, "first message must be auth")
        return None
    principal = await hub.reads.principal(message.token)
    if principal is None:
        await websocket.close(protocol.CLOSE_AUTH_FAILED, "invalid or expired token")
    return principal


async def _receive(hub: Hub, connection: Connection) -> None:
    websocket, limit = connection.websocket, hub.settings.ws_max_message_bytes
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None or len(raw) > limit:
            connection.enqueue(
                protocol.frame("error", code="bad_message", detail="send JSON text frames")
            )
            continue
        try:
            parsed = protocol.parse(raw)
        except (ValidationError, ValueError) as exc:
            detail = str(exc).splitlines()[0][:200]
            connection.enqueue(protocol.frame("error", code="bad_message", detail=detail))
            continue
        if isinstance(parsed, protocol.Subscribe):
            await hub.subscribe(connection, parsed.board_id, parsed.since, parsed.epoch)
        elif isinstance(parsed, protocol.Unsubscribe):
            await hub.leave(connection, parsed.board_id)
            connection.enqueue(
                protocol.frame("unsubscribed", board_id=str(parsed.board_id), reason="requested")
            )
        elif isinstance(parsed, protocol.Ping):
            connection.enqueue(protocol.frame("pong", id=parsed.id))
        else:
            await _reauthenticate(hub, connection, parsed.token)


async def _reauthenticate(hub: Hub, connection: Connection, token: str) -> None:
    """A fresh token before the old one expires keeps the socket open; a bad one closes it."""
    principal = await hub.reads.principal(token)
    if principal is None:
        connection.kick(protocol.CLOSE_AUTH_FAILED, "invalid or expired token")
    elif not connection.reauthenticate(principal):
        connection.enqueue(
            protocol.frame("error", code="wrong_user", detail="a socket keeps its user")
        )
    else:
        connection.enqueue(_authenticated(principal))
