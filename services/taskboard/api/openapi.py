"""`python -m taskboard.api.openapi` prints the API's OpenAPI document, as committed in
docs/openapi.json (`make openapi` rewrites it; tests/test_contract.py fails on drift)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from taskboard.api.app import create_app
from taskboard.core.config import Settings


def document() -> dict[str, Any]:
    """The document the app serves; no setting it depends on touches a server."""
    settings = Settings(
        _env_file=None,
        env="development",
        database_url="postgresql://unused@127.0.0.1:1/unused",
        redis_url="redis://127.0.0.1:1/0",
        secret_key=secrets.token_urlsafe(48),
    )
    return create_app(settings).openapi()


def main() -> None:
    print(json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False))


if __name__ == "__main__":
    main()
