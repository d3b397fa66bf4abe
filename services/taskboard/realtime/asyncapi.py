"""`python -m taskboard.realtime.asyncapi` prints the AsyncAPI 3.0 document of `/ws`, made from
the protocol's own models (committed as docs/asyncapi.json; `make openapi` rewrites both)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from taskboard import __version__
from taskboard.realtime import protocol

CLIENT: list[type[BaseModel]] = [
    protocol.Auth,
    protocol.Subscribe,
    protocol.Unsubscribe,
    protocol.Ping,
]
SERVER: list[type[BaseModel]] = [
    protocol.Authenticated,
    protocol.Subscribed,
    protocol.Event,
    protocol.Resync,
    protocol.PresenceFrame,
    protocol.NotificationFrame,
    protocol.ImportJobFrame,
    protocol.Unsubscribed,
    protocol.Pong,
    protocol.Error,
]


def _messages(models: list[type[BaseModel]]) -> dict[str, Any]:
    return {
        model.__name__: {
            "name": model.__name__,
            "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        }
        for model in models
    }


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in CLIENT + SERVER:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    messages = {**_messages(CLIENT), **_messages(SERVER)}
    close_codes = "\n".join(
        f"- {code}: {meaning}" for code, meaning in sorted(protocol.CLOSE_CODES.items())
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "taskboard realtime",
            "version": __version__,
            "description": "One WebSocket carries any number of board subscriptions; see "
            "docs/realtime-protocol.md for the guarantees. Close codes:\n" + close_codes,
        },
        "servers": {"taskboard": {"host": "localhost:8000", "pathname": "/ws", "protocol": "ws"}},
        "channels": {
            "ws": {
                "address": "/ws",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": {
            "send": {
                "action": "receive",  # what the server receives from clients
                "channel": {"$ref": "#/channels/ws"},
                "messages": [{"$ref": f"#/channels/ws/messages/{m.__name__}"} for m in CLIENT],
            },
            "receive": {
                "action": "send",
                "channel": {"$ref": "#/channels/ws"},
                "messages": [{"$ref": f"#/channels/ws/messages/{m.__name__}"} for m in SERVER],
            },
        },
        "components": {"messages": messages, "schemas": schemas},
    }


def main() -> None:
    print(json.dumps(document(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
