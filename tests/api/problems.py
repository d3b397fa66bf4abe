"""What every refusal in tests/api/test_bad_input_*.py is checked against: a problem+json
answer with the expected status, naming the field and the rule, and never a stack trace."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None, rule: str | None = None
) -> dict[str, Any]:
    """`status`, problem+json, and (when given) an error naming `field` (with `rule`)."""
    assert response.status_code == status, (response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert "Traceback" not in response.text
    if field is not None:
        errors = body.get("errors", [])
        named = [e for e in errors if e["field"] == field]
        assert named, f"no error names {field!r}: {errors}"
        if rule is not None:
            assert rule in {e["rule"] for e in named}, named
    return body


def tasks_url(board: dict[str, Any]) -> str:
    return f"/api/v1/boards/{board['id']}/tasks"
