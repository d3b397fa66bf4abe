"""The API contract is reviewed like code: docs/openapi.json is the committed document, and
any change the code makes to it must be committed with it (`make openapi`)."""

from __future__ import annotations

import json
import re
import sys
import typing
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from taskboard.api.openapi import document
from taskboard.core.schemas import NAME_PATTERN, SPACE_CLASS
from taskboard.realtime import asyncapi
from taskboard.realtime.protocol import ServerMessage

COMMITTED = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def test_the_committed_document_is_the_one_the_code_serves() -> None:
    served = document()
    committed = json.loads(COMMITTED.read_text())
    assert served == committed, (
        "the API changed: run `make openapi`, review the diff of docs/openapi.json, commit it"
    )


def test_every_operation_has_a_readable_id_security_and_problem_responses() -> None:
    doc = document()
    assert doc["components"]["securitySchemes"].keys() == {"HTTPBearer", "APIKeyCookie"}
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance"} <= set(problem["required"])
    ids = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            assert "_api_v1_" not in operation["operationId"], (method, path)
            public = (
                path.startswith("/api/v1/auth/") and not path.endswith("logout-all")
            ) or path == "/api/v1/notifications/unsubscribe"
            if not public:
                assert operation.get("security"), (method, path)
            errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
            assert errors, (method, path)
            for status, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], (
                    method,
                    path,
                    status,
                )
            assert "HTTPValidationError" not in json.dumps(operation)
    assert len(ids) == len(set(ids))


def test_each_operation_declares_the_problems_its_code_raises() -> None:
    """Read from the code (routing.raises), not listed per route: a stale If-Match is a 412
    only where If-Match is read, WIP limits are 409s where tasks move, 429s where limits are."""
    doc = document()

    def statuses(path: str, method: str) -> set[str]:
        responses = doc["paths"][path][method]["responses"]
        return {status for status in responses if status[0] in "45"}

    move = statuses("/api/v1/tasks/{task_id}/move", "post")
    assert {"401", "403", "404", "409", "412", "413", "422"} <= move
    description = doc["paths"]["/api/v1/tasks/{task_id}/move"]["post"]["responses"]["409"][
        "description"
    ]
    assert "`wip-limit-exceeded`" in description
    assert "`task-deleted`" in description
    assert "412" not in statuses("/api/v1/tasks/{task_id}", "get")
    assert "413" not in statuses("/api/v1/tasks/{task_id}", "get")  # no body, no cap
    assert "429" in statuses("/api/v1/auth/login", "post")
    assert "409" in statuses("/api/v1/auth/register", "post")


def test_the_headers_of_the_contract_are_documented() -> None:
    doc = document()
    create = doc["paths"]["/api/v1/boards/{board_id}/tasks"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert {"ETag", "Idempotent-Replayed"} <= set(create["responses"]["201"]["headers"])
    imported = doc["paths"]["/api/v1/boards/import"]["post"]["responses"]["202"]["headers"]
    assert {"Location", "Idempotent-Replayed"} <= set(imported)
    update = doc["paths"]["/api/v1/tasks/{task_id}"]["patch"]
    assert "if-match" in [p["name"].lower() for p in update["parameters"]]
    listing = doc["paths"]["/api/v1/boards"]["get"]
    assert "Idempotency-Key" not in [p["name"] for p in listing.get("parameters", [])]
    limited = doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["429"]
    assert "Retry-After" in limited["headers"]


def test_the_committed_asyncapi_document_is_the_one_the_code_makes() -> None:
    from taskboard.realtime.asyncapi import document as asyncapi

    made = asyncapi()
    committed = json.loads((COMMITTED.parent / "asyncapi.json").read_text())
    assert made == committed, "the socket protocol changed: run `make openapi`, review, commit"
    messages = made["components"]["messages"]
    assert {"Auth", "Subscribe", "Unsubscribe", "Ping"} <= set(messages)
    assert {"Subscribed", "Event", "Resync", "Error"} <= set(messages)
    assert made["components"]["schemas"]["Subscribed"]["required"] == [
        "type",
        "board_id",
        "seq",
        "epoch",
    ]


def test_the_main_bodies_carry_examples() -> None:
    schemas = document()["components"]["schemas"]
    for name in (
        "TaskCreate",
        "TaskRead",
        "TaskMove",
        "BoardCreate",
        "Registration",
        "Credentials",
        "Problem",
    ):
        assert schemas[name].get("examples"), name


def test_parameters_are_a_value_or_absent_never_null() -> None:
    """FastAPI writes an optional parameter as anyOf [T, null]; generators then send the text
    "null" (as If-Match, say), which the API refuses. The document says T."""
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                assert "null" not in json.dumps(parameter["schema"]), (method, path, parameter)


def test_name_pattern_spells_out_the_whitespace_python_strips() -> None:
    """Names are stripped with str.strip(); the pattern must call the same characters
    whitespace, in a form ECMAScript regexes (JSON Schema's) read the same way."""
    space = re.compile(f"[{SPACE_CLASS}]")
    assert all(bool(space.fullmatch(c)) == c.isspace() for c in map(chr, range(sys.maxunicode + 1)))
    assert re.fullmatch(NAME_PATTERN, " \u3000x\x1c")
    assert not re.fullmatch(NAME_PATTERN, " \u3000\x1c\x85")
    assert not re.fullmatch(NAME_PATTERN, "a\x00")


def test_the_asyncapi_document_lists_every_server_message() -> None:
    union = typing.get_args(typing.get_args(ServerMessage)[0])
    assert set(asyncapi.SERVER) == set(union)


def _body_models() -> set[type[BaseModel]]:
    """Every model a request body is read with (named in the document's request bodies), the
    models nested in them included."""
    ours: dict[str, list[type[BaseModel]]] = {}
    classes: list[type[BaseModel]] = [BaseModel]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if cls.__module__.startswith("taskboard."):
            ours.setdefault(cls.__name__, []).append(cls)
    bodies = [
        op.get("requestBody") for item in document()["paths"].values() for op in item.values()
    ]
    named = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(bodies)))
    assert named
    assert all(len(ours[name]) == 1 for name in named), named
    found: set[type[BaseModel]] = set()

    def visit(annotation: Any) -> None:
        for argument in typing.get_args(annotation):
            visit(argument)
        model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if model and annotation not in found:
            found.add(annotation)
            for field in annotation.model_fields.values():
                visit(field.annotation)

    for name in named:
        visit(ours[name][0])
    return found


def _json_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a field's schema allows ("date-time" for a string of that format), its
    array items' types as "items:<type>"; nested models are checked on their own."""
    types: set[str] = set()
    for branch in schema.get("anyOf", [schema]):
        kind = branch.get("type")
        if kind == "string" and branch.get("format") == "date-time":
            types.add("date-time")
        elif kind == "array":
            types |= {f"items:{t}" for t in _json_types(branch.get("items", {}))}
        elif kind is not None:
            types.add(kind)
    return types


# Values of another JSON type that pydantic's lax mode would turn into the field's own.
WRONG_TYPES: dict[str, list[Any]] = {
    "boolean": ["true", "yes", 1, 0.0],
    "integer": ["5", True],
    "number": ["1.5", True],
    "date-time": [0, 1_700_000_000, 1.7e9, "1700000000"],
}


def test_request_bodies_take_only_the_json_types_the_document_states() -> None:
    """A boolean is true or false (not "yes", 1 or 0.0), an integer a number (not "5" or
    true), a timestamp a date-time string (not a Unix time): what the document calls invalid
    is refused, as negative_data_rejection expects, for every field of every request body."""
    accepted: list[tuple[str, str, Any]] = []
    probed: set[tuple[str, str]] = set()
    for model in _body_models():
        for name, field in model.model_fields.items():
            annotation: Any = field.annotation
            if field.metadata:
                annotation = Annotated[(annotation, *field.metadata)]
            adapter: TypeAdapter[Any] = TypeAdapter(annotation)
            types = _json_types(adapter.json_schema())
            for kind, values in WRONG_TYPES.items():
                for container in ("", "items:"):
                    if f"{container}{kind}" not in types or (
                        kind == "date-time" and f"{container}string" in types
                    ):
                        continue
                    probed.add((model.__name__, name))
                    for value in values:
                        if _fits(value, types, container):
                            continue
                        try:
                            adapter.validate_python([value] if container else value)
                        except ValidationError:
                            continue
                        accepted.append((model.__name__, name, value))
    assert {("BoardUpdate", "archived"), ("TaskCreate", "due_at")} <= probed
    assert {("PreferencesUpdate", "reminder_offsets_minutes"), ("TrelloCard", "pos")} <= probed
    assert ("BoardDocument", "version") in probed  # Literal[1]: true == 1 in Python
    # pydantic's own names for constraints mean a validator came before them (see IsInteger).
    assert not re.search(r'"(ge|le|gt|lt)":', json.dumps(document()))
    assert accepted == [], "accepted:\n" + "\n".join(map(str, sorted(accepted, key=str)))


def _fits(value: Any, types: set[str], container: str) -> bool:
    """Whether `value` is valid for another type the field allows (a union's other branch)."""
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}[type(value)]
    allowed = {t.removeprefix(container) for t in types if t.startswith(container)}
    return kind in allowed or (kind == "integer" and "number" in allowed)
