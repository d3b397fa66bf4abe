"""What the OpenAPI document says of every operation beyond its own body: the problem+json
shape of errors and the answers every authenticated operation can give, operation ids that
read well in generated clients, and the security schemes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from taskboard.routing.raises import dependency_calls, operation_errors


class FieldError(BaseModel):
    field: str = Field(description="the field, parameter or header at fault (dotted path)")
    rule: str = Field(description="the rule it broke, e.g. required, max_length, format")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/validation-error",
                    "title": "Validation failed",
                    "status": 422,
                    "detail": "Invalid fields: title",
                    "instance": "/api/v1/boards/0b7c.../tasks",
                    "errors": [{"field": "title", "rule": "string_too_long", "message": "..."}],
                    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                }
            ]
        },
    )

    type: str = Field(description="a URI reference naming the kind of problem")
    title: str
    status: int
    detail: str
    instance: str = Field(description="the request path")
    errors: list[FieldError] | None = Field(
        None, description="one entry per bad field, for 422 and some 4xx"
    )
    trace_id: str | None = Field(None, description="quote it when reporting the problem")


def problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


# What any operation open to anyone can answer, whatever it does.
PUBLIC: dict[int | str, dict[str, Any]] = {
    422: problem_response("A field breaks a rule (see `errors`)"),
    500: problem_response("Our fault: quote the trace_id"),
}

# What any authenticated operation can answer, whatever it does.
AUTHENTICATED: dict[int | str, dict[str, Any]] = {
    401: problem_response("No valid access token (Bearer header or session cookie)"),
    422: problem_response("A parameter, header or body field breaks a rule (see `errors`)"),
    500: problem_response("Our fault: quote the trace_id"),
}


# Every route by its operation id, as FastAPI names them (below): the document is completed
# from the routes' code once it is generated.
_routes: dict[str, APIRoute] = {}


def operation_id(route: APIRoute) -> str:
    """`<tag>-<name>`: the handler's name with the tag's own noun taken out, e.g. tasks-create
    (create_task), boards-list-members (list_members)."""
    tag = str(route.tags[0]) if route.tags else "default"
    noun = tag.rstrip("s")
    words = [w for w in route.name.split("_") if w not in (tag, noun)]
    name = "-".join([tag, *words]) if words else tag
    _routes[name] = route
    return name


def _sets_header(route: APIRoute, name: str) -> bool:
    """Whether the handler itself sets response header `name` (`response.headers[...] =`)."""
    try:
        source = inspect.getsource(inspect.unwrap(route.endpoint))
    except (OSError, TypeError):
        return False
    return f'response.headers["{name}"]' in source


SECURITY_SCHEMES = {
    "HTTPBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from /api/v1/auth/login",
    },
    "APIKeyCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "taskboard_access",
        "description": "The session cookie login sets (its name is TASKBOARD_ACCESS_COOKIE_NAME)",
    },
}


def authenticates(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark the dependency that resolves the caller: operations that depend on it are listed
    with the security schemes. (FastAPI's own security classes would say the same but run on
    every request, for the document's sake.)"""
    function.__dict__["taskboard_authenticates"] = True
    return function


def _declare_security(operation: dict[str, Any], route: APIRoute) -> None:
    if any(getattr(c, "taskboard_authenticates", False) for c in dependency_calls(route.dependant)):
        operation["security"] = [{name: []} for name in SECURITY_SCHEMES]


def documents_header(
    name: str, *, pattern: str, description: str, methods: frozenset[str] = frozenset({"POST"})
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a dependency that reads request header `name` itself (not as a FastAPI Header
    parameter, which would list it on every method): operations of `methods` that depend
    on it list the header, with the pattern the dependency enforces."""

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        parameter = {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": pattern},
            "description": description,
        }
        function.__dict__["taskboard_header"] = (methods, parameter)
        return function

    return mark


def _declare_headers(operation: dict[str, Any], route: APIRoute, method: str) -> None:
    """The headers the contract carries besides parameters FastAPI already lists."""
    responses = operation.get("responses", {})
    for call in dependency_calls(route.dependant):
        methods, parameter = getattr(call, "taskboard_header", (frozenset(), {}))
        if method in methods:
            operation.setdefault("parameters", []).append(dict(parameter))
    replays = any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    retiring = next(
        (
            c.taskboard_deprecation
            for c in dependency_calls(route.dependant)
            if hasattr(c, "taskboard_deprecation")
        ),
        None,
    )
    for status, response in responses.items():
        headers = response.setdefault("headers", {}) if status.startswith("2") else None
        if headers is not None and retiring is not None:
            headers["Deprecation"] = {
                "description": f"Deprecated since `{retiring['Deprecation']}` (RFC 9745)",
                "schema": {"type": "string"},
            }
            headers["Sunset"] = {
                "description": f"May be removed after {retiring['Sunset']} (RFC 8594)",
                "schema": {"type": "string"},
            }
        if headers is not None and replays:
            headers["Idempotent-Replayed"] = {
                "description": "`true`: the answer to an earlier, identical request (see the "
                "Idempotency-Key parameter), which was not carried out twice; absent otherwise",
                "schema": {"type": "string", "enum": ["true"]},
            }
        if headers is not None and _sets_header(route, "ETag"):
            headers["ETag"] = {
                "description": 'The version, e.g. `"3"`: send it back as If-Match',
                "schema": {"type": "string"},
            }
        if status == "429":
            response.setdefault("headers", {})["Retry-After"] = {
                "description": "Seconds until the limit's window ends",
                "schema": {"type": "integer"},
            }
        if headers == {}:
            del response["headers"]


def _parameters_are_never_null(operation: dict[str, Any]) -> None:
    """An optional parameter is absent or a value: FastAPI writes `X | None` as anyOf [X,
    null], which generators read as "may send the text null"."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        branches = schema.get("anyOf")
        if branches and {"type": "null"} in branches:
            rest = [b for b in branches if b != {"type": "null"}]
            del schema["anyOf"]
            if len(rest) == 1:
                schema.update({**rest[0], **schema})
            else:
                schema["anyOf"] = rest


def _declare_errors(operation: dict[str, Any], route: APIRoute, method: str) -> None:
    """Each status the route's code can raise, with the problem types behind it."""
    by_status: dict[int, set[str]] = {}
    for error in operation_errors(route.dependant, method):
        by_status.setdefault(error.status, set()).add(error.type)
    if route.body_field is not None:
        by_status.setdefault(400, set()).add("bad-request")  # the body is not JSON at all
        by_status.setdefault(413, set()).add("payload-too-large")
    responses = operation.setdefault("responses", {})
    for status, types in sorted(by_status.items()):
        if status < 400:
            continue
        listed = ", ".join(f"`{t}`" for t in sorted(types))
        existing = responses.get(str(status))
        if existing is None:
            responses[str(status)] = problem_response(f"Problem types: {listed}")
        else:
            existing["description"] = f"{existing['description']}. Problem types: {listed}"


def declare_problem_schema(app: FastAPI) -> None:
    """Put Problem (and FieldError) in the document's components, which every problem
    response refers to (as `model=` FastAPI would also list them as application/json), and
    declare on each operation the problems its code can raise (routing.raises)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # FastAPI caches it; the additions below stay in that copy
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            document["components"]["securitySchemes"] = SECURITY_SCHEMES
            for item in document.get("paths", {}).values():
                for method, operation in item.items():
                    route = _routes.get(operation.get("operationId", ""))
                    if route is not None:
                        _declare_errors(operation, route, method.upper())
                        _declare_headers(operation, route, method.upper())
                        _declare_security(operation, route)
                        _parameters_are_never_null(operation)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
