"""The gunicorn worker class of the api deployment: uvicorn's, configured from our settings."""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker

from taskboard.core.config import Settings, load_settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every server of ours sets: no `server` banner, and forwarded headers believed only
    from the configured proxies (uvicorn's default trusts 127.0.0.1, which let anyone on the
    host pick their own client address and walk past per-IP limits)."""
    trusted = settings.forwarded_allow_ips.strip()
    return {
        "server_header": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
    }


class ApiWorker(UvicornWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, **uvicorn_options(load_settings())}
        super().__init__(*args, **kwargs)
