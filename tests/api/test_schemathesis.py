"""Schemathesis over the app's own OpenAPI document: no operation answers 5xx, and every
answer is one the document declares (status code, content type, body schema, headers: see
CHECKS), whatever it is sent, with a real Bearer token and real ids in the paths.

How it runs: schemathesis' ASGI transport (starlette's TestClient) would call the app on its own
event loop in another thread, where the session's asyncpg engine cannot be used; and
`schema.parametrize()` does not mix with the suite's async fixtures. So one async test takes
the operations in turn: schemathesis' hypothesis strategy for each (`operation.as_strategy()`,
positive and negative data) is drawn into a list by a small synchronous `@given` function, and
the cases are then sent through the suite's own `api` client (httpx over ASGITransport, on the
session loop, inside the test's rolled-back transaction), and each response is validated with
`case.validate_response(..., checks=CHECKS)`. The same test then checks the run's
size (operations, cases, 2xx answers), so no other test's state, order or selection matters.

Path parameters: two cases in three get the ids of a real board/task/column/label/comment/member
the caller may act on, so requests reach the services and PostgreSQL; the rest keep whatever
schemathesis generated (random UUIDs: 404s; malformed ones: 422s). A parameter schemathesis
made invalid on purpose (a negative case) is never replaced, nor is a deliberately broken
Authorization header: what is sent stays what the case says it is.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from taskboard.api.app import api_router
from tests.helpers import ApiClient, User

# Cases drawn per operation and mode: 35 operations x (20 + 12) ~ 1,100 requests in all.
POSITIVE_CASES = 20
NEGATIVE_CASES = 12
MIN_OPERATIONS = 30


def _operation_ids(document: dict[str, Any]) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    ]


def _collected_operations() -> list[str]:
    """The REST routes' OpenAPI operations, from a bare FastAPI app (nothing connected, nothing
    configured). test_every_served_operation_is_fuzzed checks they are all the app serves."""
    app = FastAPI()
    app.include_router(api_router())
    return _operation_ids(app.openapi())


# Every answer must be one the document declares (status, content type, body schema,
# headers); a request the document calls valid is accepted, one it calls invalid refused.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]

# A refusal is also a 413 (the body is over TASKBOARD_MAX_BODY_BYTES: its content unread);
# valid data may also meet a 412 (If-Match names a version the task is no longer at).
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
            },
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                    "428",
                    "429",
                ]
            },
        }
    }
)

# The exclusions: schema-valid requests the API rightly refuses, because what decides is
# state or a relation no JSON Schema can state. A 422 whose every error is one of these
# (field, rule) pairs is not held against positive_data_acceptance; any other refusal is.
REFUSALS_NO_SCHEMA_CAN_STATE = {
    ("current_password", "matches"): "the current password must be the caller's",
    ("time_zone", "value_error"): "a zone of the server's tz database, which changes with "
    "tzdata releases (the document gives examples, not a 600-name enum)",
    ("cursor", "format"): "a cursor is opaque: only one this API issued, for this list",
    ("Idempotency-Key", "reused"): "a key is bound to the first request sent with it",
    ("parent_id", "same_task"): "a reply's parent must be a comment on the same task",
    ("parent_id", "live"): "a reply's parent must not be a deleted comment",
    ("after_id", "same_column"): "a neighbour must be a live task in the target column",
    ("before_id", "same_column"): "a neighbour must be a live task in the target column",
    ("due_at", "after_start"): "due_at must not be before start_at (two fields)",
    ("assignee_ids", "member"): "assignees must be members of the board",
    ("labels", "exists"): "labels must be the board's own",
    ("url", "target"): "where a webhook URL's host resolves to (and whether that is a private "
    "address) is DNS's answer at that moment, not the string's",
    ("email", "value_error"): "email-validator refuses addresses that `format: email` allows "
    "but mail cannot reach (special-use domains such as .test, quoted local parts)",
    ("email", "account_exists"): "a member is added by the address of an account that exists",
    ("token", "invalid"): "an upload grant is opaque: only one this API signed, for this task",
    ("token", "expired"): "an upload grant lives as long as its signed PUT",
    # A board document's parts name each other (fields with the item's index, read as `*`).
    ("columns.*.key", "unique"): "a document's column keys differ from each other",
    ("labels.*.name", "unique"): "a document's label names differ from each other (any case)",
    ("tasks.*.column", "exists"): "a task's column is one of the document's columns",
    ("tasks.*.labels", "exists"): "a task's labels are among the document's labels",
    ("tasks.*.comments.*.parent", "earlier"): "a reply's parent is an earlier comment of its task",
    ("tasks.*.due_at", "after_start"): "a task's due_at is not before its start_at (two fields)",
}
INDEX = re.compile(r"\.\d+(?=\.|$)")


def refused_for_state(response: httpx.Response) -> bool:
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or [{}]
    return all(
        (INDEX.sub(".*", e.get("field") or ""), e.get("rule")) in REFUSALS_NO_SCHEMA_CAN_STATE
        for e in errors
    )


def negative_parameters(case: Any) -> set[str]:
    """The parameters schemathesis made invalid on purpose: the harness must not overwrite
    them with valid values (a real token, a real id), or the case is no longer negative."""
    data = case.meta.phase.data
    names = {m.parameter for m in getattr(data, "mutations", ()) if m.parameter}
    if getattr(data, "parameter", None):
        names.add(data.parameter)
    if (
        component := case.meta.components.get(ParameterLocation.PATH)
    ) and component.mode.is_negative:
        names |= set(case.path_parameters or {})
    return names


OPERATIONS = _collected_operations()


@dataclass
class World:
    """Things that exist, that the caller (owner of the board) may act on."""

    owner: User
    member: User
    ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def build(cls, api: ApiClient, owner: User, member: User) -> World:
        world = cls(owner, member)
        await world.refresh(api)
        return world

    async def refresh(self, api: ApiClient) -> None:
        """A fresh board with a task, a label, a comment and a member (after a case deleted
        the previous one, or took ownership away)."""
        board = await api.board(self.owner, "Fuzzed")
        await api.add_member(board["id"], self.owner, self.member, "member")
        task = await api.task(board["id"], self.owner, title="Fuzz me")
        headers = self.owner.headers
        label = await api.request(
            "POST", f"/api/v1/boards/{board['id']}/labels", json={"name": "L"}, headers=headers
        )
        assert label.status_code == 201, label.text
        comment = await api.request(
            "POST", f"/api/v1/tasks/{task['id']}/comments", json={"body": "c"}, headers=headers
        )
        assert comment.status_code == 201, comment.text
        self.ids = {
            "board_id": board["id"],
            "task_id": task["id"],
            "label_id": label.json()["id"],
            "comment_id": comment.json()["id"],
            "user_id": self.member.id,
            "key": "todo",
        }


def draw_cases(operation: Any, mode: GenerationMode, count: int) -> list[Any]:
    """`count` cases from schemathesis' strategy for the operation (generate phase only: no
    failing example exists to shrink; no example database)."""
    cases: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        cases.append(case)

    # No negative data exists for an operation without parameters or body: Unsatisfiable.
    with contextlib.suppress(Unsatisfiable):
        collect()
    return cases


def to_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The requests-style kwargs schemathesis serializes a case to, as httpx kwargs."""
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": dict(kwargs.get("headers") or {}),
        # requests drops None query values; httpx would send them as empty strings.
        "params": {k: v for k, v in (kwargs.get("params") or {}).items() if v is not None},
    }
    if kwargs.get("cookies"):
        request["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items())
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()
        request["headers"].setdefault("Content-Type", "application/json")
    elif isinstance(kwargs.get("data"), (bytes, str)):
        request["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        request["data"] = kwargs["data"]
    if kwargs.get("files"):
        request["files"] = kwargs["files"]
    return request


@pytest.fixture
async def schema(api: ApiClient) -> Any:
    response = await api.request("GET", "/api/openapi.json")
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(response.json(), config=CONFIG)


async def test_every_served_operation_is_fuzzed(api: ApiClient) -> None:
    served = (await api.request("GET", "/api/openapi.json")).json()
    assert sorted(_operation_ids(served)) == sorted(OPERATIONS)
    assert len(OPERATIONS) >= MIN_OPERATIONS


async def fuzz(
    api: ApiClient, schema: Any, operation_id: str, totals: dict[str, int]
) -> tuple[dict[int, int], list[str]]:
    """Send one operation's cases; its statuses (counted into `totals` too) and 5xx reports."""
    method, path = operation_id.split(" ", 1)
    operation = schema[path][method]
    world = await World.build(api, await api.user("owner"), await api.user("member"))
    cases = draw_cases(operation, GenerationMode.POSITIVE, POSITIVE_CASES) + draw_cases(
        operation, GenerationMode.NEGATIVE, NEGATIVE_CASES
    )
    assert cases, f"{operation_id}: no case drawn"
    statuses: dict[int, int] = {}
    server_errors: list[str] = []
    for index, case in enumerate(cases):
        keep = negative_parameters(case)
        real_ids = (
            index % 3 != 2 and bool(case.path_parameters) and not keep & set(case.path_parameters)
        )
        if real_ids:
            case.path_parameters = {
                name: world.ids.get(name, value) for name, value in case.path_parameters.items()
            }
            totals["real_ids"] += 1
        request = to_httpx(case.as_transport_kwargs(base_url="http://testserver"))
        if "Authorization" not in keep:
            request["headers"]["Authorization"] = world.owner.headers["Authorization"]
        try:
            response = await api.http.request(**request)
        except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
            continue  # a header/URL no HTTP client can send: nothing reached the app
        totals["cases"] += 1
        status_class = f"{response.status_code // 100}xx"
        totals[status_class] = totals.get(status_class, 0) + 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        try:
            excluded = [positive_data_acceptance] if refused_for_state(response) else []
            case.validate_response(response, checks=CHECKS, excluded_checks=excluded)
        except FailureGroup as failure:
            server_errors.append(f"{operation_id}: {failure}\n{response.text[:500]}")
            print(f"off contract: {operation_id} {response.status_code} {response.text[:300]}")
        if (method == "DELETE" and response.status_code == 204) or response.status_code == 403:
            await world.refresh(api)  # what the next cases point at must exist again
    assert statuses, f"{operation_id}: no case could be sent"
    totals["operations"] += 1
    return statuses, server_errors


async def test_no_operation_answers_5xx(api: ApiClient, schema: Any) -> None:
    """Every operation in turn, each against a world of its own; then the run's size is
    checked here, so that a -k selection or an xdist split can never leave it unchecked."""
    totals: dict[str, int] = {"operations": 0, "cases": 0, "real_ids": 0, "2xx": 0}
    server_errors: list[str] = []
    print(f"schemathesis: {len(OPERATIONS)} operations in the schema")
    for operation_id in OPERATIONS:
        statuses, errors = await fuzz(api, schema, operation_id, totals)
        server_errors += errors
        print(f"  {operation_id}: {dict(sorted(statuses.items()))}")
    print(f"schemathesis ran {totals}")
    assert not server_errors, f"{len(server_errors)} answers off the contract:\n\n" + "\n\n".join(
        server_errors[:3]
    )
    assert totals["operations"] == len(OPERATIONS) >= MIN_OPERATIONS, totals
    assert totals["cases"] >= MIN_OPERATIONS * (POSITIVE_CASES + NEGATIVE_CASES) // 2, totals
    assert totals["2xx"] >= MIN_OPERATIONS, totals  # real ids reach the services
