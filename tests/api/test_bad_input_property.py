"""Property: whatever JSON body arrives, the answer is a 201 or a 4xx problem+json, never a
5xx (and never a stack trace)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.api.problems import assert_problem, tasks_url
from tests.helpers import ApiClient, User

_hostile_chars = st.sampled_from(["\x00", "a", " ", "é", "\u202e", "\ud800", "\n", "'", "%"])
_texts = (
    st.text(max_size=40)
    | st.text(alphabet=_hostile_chars, max_size=8)
    | st.sampled_from(["", "   ", "t" * 200, "t" * 201, "'; DROP TABLE tasks; --", "\\u0000"])
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**300)
    | st.floats()  # NaN and ±Infinity too: json.dumps writes them and the app's parser reads them
    | _texts
    | st.sampled_from(
        ["todo", "high", "2024-05-01T10:00:00", "2024-05-01T10:00:00Z", str(uuid.uuid4())]
    )
)
_field_names = [
    "title",
    "description",
    "status",
    "priority",
    "assignee_ids",
    "labels",
    "start_at",
    "due_at",
    "name",
]
_keys = st.sampled_from(_field_names) | st.text(max_size=12)
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=12,
)
_dates = (
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
    | st.datetimes().map(lambda d: d.isoformat())  # naive
    | json_values
)
_valid_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)
_valid_name = _valid_text.filter(lambda t: t.strip() != "")
_valid_dates = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.timezones()
).map(lambda d: d.isoformat())
# Valid bodies full of odd but legal values (any Unicode but NUL, extreme time zones) reach
# PostgreSQL; near-valid ones (the required field present, the others plausible or garbage) get
# past the first check; free-form JSON probes the parser.
valid_task_bodies = st.fixed_dictionaries(
    {"title": _valid_name},
    optional={
        "description": _valid_text,
        "status": st.sampled_from(["todo", "in_progress", "done"]),
        "priority": st.sampled_from(["none", "low", "medium", "high", "urgent"]),
        "assignee_ids": st.just([]),
        "due_at": _valid_dates,
    },
)
task_bodies = st.fixed_dictionaries(
    {"title": _texts},
    optional={
        "description": _texts | json_values,
        "status": st.sampled_from(["todo", "in_progress", "done", "nope", "TODO"]) | _texts,
        "priority": st.sampled_from(["none", "low", "medium", "high", "urgent"]) | json_values,
        "assignee_ids": st.lists(st.uuids().map(str), max_size=3) | json_values,
        "labels": st.lists(st.uuids().map(str), max_size=3) | json_values,
        "start_at": _dates,
        "due_at": _dates,
        "extra": json_values,
    },
)
valid_board_bodies = st.fixed_dictionaries(
    {"name": _valid_name}, optional={"description": _valid_text}
)
board_bodies = st.fixed_dictionaries(
    {"name": _texts}, optional={"description": _texts | json_values, "extra": json_values}
)
any_json = st.dictionaries(_keys, json_values, max_size=6) | json_values
requests = st.tuples(st.just("tasks"), valid_task_bodies | task_bodies | any_json) | st.tuples(
    st.just("boards"), valid_board_bodies | board_bodies | any_json
)

PROPERTY_EXAMPLES = 100


async def test_any_json_body_gets_201_or_a_4xx_problem(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    """The property, then a check that it really ran its examples and that some of them were
    valid enough to be created (so the strategies reach PostgreSQL, not only the parser).

    How this runs: Hypothesis drives the synchronous `prop` in a worker thread
    (`asyncio.to_thread`); each example hands its request to the session event loop, which
    this test leaves free while it awaits the thread, with `run_coroutine_threadsafe`, and
    blocks on the result. So every example awaits the app on the same loop as the
    session-scoped engine, a failing example is still shrunk and reported by Hypothesis, and
    the count is checked here, after the last example, in the same test. The fixtures (api,
    owner, board: one rolled-back transaction) are shared by all the examples; each request is
    its own savepoint, so a refused one leaves nothing behind."""
    loop = asyncio.get_running_loop()
    headers = {**owner.headers, "content-type": "application/json"}
    seen = {"examples": 0, "created": 0}

    async def send(target: str, body: Any) -> None:
        seen["examples"] += 1
        url = tasks_url(board) if target == "tasks" else "/api/v1/boards"
        content = json.dumps(body, allow_nan=True).encode()
        response = await api.request("POST", url, content=content, headers=headers)
        assert response.status_code < 500, (content[:500], response.text[:1000])
        if response.status_code == 201:
            seen["created"] += 1
            return
        assert_problem(response, response.status_code)
        assert 400 <= response.status_code < 500

    @hypothesis_settings(
        max_examples=PROPERTY_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(request=requests)
    def prop(request: tuple[str, Any]) -> None:
        asyncio.run_coroutine_threadsafe(send(*request), loop).result()

    await asyncio.to_thread(prop)
    print(f"property examples run: {seen}")
    assert seen["examples"] >= PROPERTY_EXAMPLES * 0.9, seen
    assert seen["created"] > 0, seen
