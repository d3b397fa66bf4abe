"""Which problems an operation can answer, read from the code: the `raise` statements of its
handler, of its dependencies and of every function of ours they call, followed through the
modules' names. Nothing is listed by hand, so the document cannot forget an error a service
learns to raise."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from functools import cache
from types import ModuleType
from typing import Any

from fastapi.dependencies.models import Dependant

from taskboard.core.errors import TaskboardError

ErrorClass = type[TaskboardError]


def _ours(value: object) -> bool:
    module = getattr(value, "__module__", "") or ""
    return module.startswith("taskboard.")


def _resolve(node: ast.expr, scope: dict[str, Any]) -> object:
    """The object a Name or a dotted Attribute names in `scope` (a module's globals)."""
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, scope)
        if isinstance(owner, ModuleType) or inspect.isclass(owner):
            return getattr(owner, node.attr, None)
    return None


def _error_class(value: object) -> ErrorClass | None:
    if inspect.isclass(value) and issubclass(value, TaskboardError):
        return value
    return None


@cache
def raised_by(function: Callable[..., Any]) -> frozenset[ErrorClass]:
    """Every TaskboardError `function` can raise, itself or through our functions it calls."""
    function = inspect.unwrap(function)
    if not _ours(function):
        return frozenset()
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    scope: dict[str, Any] = dict(getattr(function, "__globals__", {}))
    defaults = _parameter_defaults(function)
    found: set[ErrorClass] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            found |= _from_raise(node.exc, scope, defaults)
        elif isinstance(node, ast.Call):
            callee = _resolve(node.func, scope)
            if (
                callee is not None
                and callee is not function
                and _ours(callee)
                and (inspect.isfunction(callee) or inspect.ismethod(callee))
            ):
                found |= raised_by(callee)
            for keyword in node.keywords:  # e.g. require_role(..., hidden=TaskNotFound)
                if (error := _error_class(_resolve(keyword.value, scope))) is not None:
                    found.add(error)
    return frozenset(found)


def _parameter_defaults(function: Callable[..., Any]) -> dict[str, object]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _from_raise(
    exc: ast.expr, scope: dict[str, Any], defaults: dict[str, object]
) -> set[ErrorClass]:
    target = exc.func if isinstance(exc, ast.Call) else exc
    value = _resolve(target, scope)
    if value is None and isinstance(target, ast.Name):
        value = defaults.get(target.id)  # `raise hidden()` with hidden=BoardNotFound
    if (error := _error_class(value)) is not None:
        return {error}
    if inspect.isfunction(value) and _ours(value):  # `raise _too_many(...)`
        returned = inspect.signature(value).return_annotation
        if isinstance(returned, str):
            returned = value.__globals__.get(returned)
        if (error := _error_class(returned)) is not None:
            return {error}
    return set()


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """A route's handler and every dependency below it."""
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from dependency_calls(sub)


def only_for(*methods: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a dependency that does nothing for other methods (a router-wide one), so its
    errors are not claimed for them."""

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        function.__dict__["taskboard_methods"] = frozenset(methods)
        return function

    return mark


def operation_errors(dependant: Dependant, method: str) -> frozenset[ErrorClass]:
    """What a route's handler and its whole dependency tree can raise for `method`."""
    found: set[ErrorClass] = set()
    for call in dependency_calls(dependant):
        methods = getattr(call, "taskboard_methods", None)
        if methods is None or method in methods:
            found |= raised_by(call)
    return frozenset(found)
