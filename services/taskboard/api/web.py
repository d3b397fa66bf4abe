"""The browser client (services/web), built into taskboard/web_dist by `make web` and served
at `/`: the page with a strict Content-Security-Policy, its hashed assets cached for good."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

WEB_DIST = Path(__file__).resolve().parent.parent / "web_dist"

# Scripts and styles only from files of this origin (no inline code, no eval); the socket and
# the API on the same origin; nothing may frame the page.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class _Assets(StaticFiles):
    """Vite names every asset by its content hash: a name never changes meaning."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def serve_web(app: FastAPI, dist: Path = WEB_DIST) -> None:
    index = dist / "index.html"
    if not index.is_file():

        @app.get("/", include_in_schema=False)
        async def not_built() -> PlainTextResponse:
            return PlainTextResponse(
                "The web client is not built. Run `make web` (or `make up`), then reload. "
                "The API is at /api/v1 and its documentation at /api/docs.\n",
                status_code=503,
            )

        return

    app.mount("/assets", _Assets(directory=dist / "assets"), name="web-assets")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        # Revalidated on every load, so a deploy's new asset names are picked up at once.
        return FileResponse(
            index,
            headers={"cache-control": "no-cache", "content-security-policy": PAGE_CSP},
        )
