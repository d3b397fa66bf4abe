"""An operation retired within v1 says so in the document and in every answer."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from taskboard.routing.contract import declare_problem_schema, operation_id
from taskboard.routing.deprecation import deprecation


def _app() -> FastAPI:
    router = APIRouter(tags=["widgets"])

    @router.get("/widgets", **deprecation(since=date(2027, 1, 1), sunset=date(2027, 7, 1)))
    async def list_widgets() -> list[str]:
        return ["w"]

    @router.get("/gadgets", tags=["gadgets"])
    async def list_gadgets() -> list[str]:
        return ["g"]

    app = FastAPI(generate_unique_id_function=operation_id)
    app.include_router(router)
    declare_problem_schema(app)
    return app


async def test_a_deprecated_operation_answers_with_deprecation_and_sunset() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        retired = await client.get("/widgets")
        current = await client.get("/gadgets")
    assert retired.status_code == 200
    assert retired.headers["Deprecation"] == "@1798761600"  # 2027-01-01T00:00:00Z
    assert retired.headers["Sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert "Deprecation" not in current.headers
    assert "Sunset" not in current.headers


def test_the_document_marks_it_and_lists_the_headers() -> None:
    paths = _app().openapi()["paths"]
    retired = paths["/widgets"]["get"]
    assert retired["deprecated"] is True
    assert {"Deprecation", "Sunset"} <= set(retired["responses"]["200"]["headers"])
    assert "deprecated" not in paths["/gadgets"]["get"]


def test_a_sunset_needs_six_months_notice() -> None:
    with pytest.raises(ValueError, match="180 days"):
        deprecation(since=date(2027, 1, 1), sunset=date(2027, 3, 1))
