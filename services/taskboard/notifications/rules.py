"""Who is told what about an event: pure functions of the event and the facts the caller
looked up (members, assignees, the parent comment's author). One notice per recipient and
event, of the most specific kind; nobody is told of their own action; only board members
are ever told anything."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Most specific first: a reply that mentions you is a mention, not also a reply.
KINDS = (
    "mention",
    "reply",
    "comment",
    "assigned",
    "unassigned",
    "status_changed",
    "due_soon",
    "overdue",
)
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    display_name: str
    email: str


@dataclass(frozen=True)
class Facts:
    """What the event alone does not say, read when it is handled."""

    members: Mapping[uuid.UUID, Member]
    assignees: frozenset[uuid.UUID] = frozenset()  # the task's, for comment events
    parent_author: uuid.UUID | None = None  # for replies


@dataclass(frozen=True)
class Notice:
    user_id: uuid.UUID
    kind: str
    task_id: uuid.UUID | None
    data: dict[str, Any] = field(default_factory=dict)


def _ids(values: Iterable[Any]) -> set[uuid.UUID]:
    return {uuid.UUID(str(v)) for v in values}


def mentioned(text: str, members: Iterable[Member]) -> set[uuid.UUID]:
    """Members named in `text` as `@display name` or `@email`, not inside a longer word."""
    found = set()
    for member in members:
        for handle in (member.display_name, member.email):
            pattern = rf"(?<![\w@])@{re.escape(handle)}(?!\w|[.@-]\w)"
            if handle and re.search(pattern, text, flags=re.IGNORECASE):
                found.add(member.user_id)
    return found


def _task_summary(task: Mapping[str, Any]) -> dict[str, Any]:
    return {"task_title": task.get("title"), "status": task.get("status")}


def notices(
    event_type: str, data: Mapping[str, Any], actor: uuid.UUID | None, facts: Facts
) -> list[Notice]:
    wanted: dict[uuid.UUID, str] = {}
    task_id: uuid.UUID | None = None
    extra: dict[str, Any] = {}

    def tell(users: Iterable[uuid.UUID], kind: str) -> None:
        for user in users:
            if _RANK[kind] < _RANK.get(wanted.get(user, ""), len(KINDS)):
                wanted[user] = kind

    if event_type.startswith("task."):
        task = data.get("task") or {}
        task_id = uuid.UUID(task["id"]) if task.get("id") else None
        extra = _task_summary(task)
        if event_type == "task.created":
            tell(_ids(task.get("assignee_ids") or ()), "assigned")
        elif event_type == "task.updated":
            tell(_ids(data.get("assignees_added") or ()), "assigned")
            tell(_ids(data.get("assignees_removed") or ()), "unassigned")
        elif event_type == "task.moved" and data.get("from_status") != task.get("status"):
            extra["from_status"] = data.get("from_status")
            tell(_ids(task.get("assignee_ids") or ()), "status_changed")
    elif event_type == "comment.created":
        task_id = uuid.UUID(data["task_id"]) if data.get("task_id") else None
        extra = {"comment_id": data.get("id"), "excerpt": str(data.get("body", ""))[:200]}
        tell(facts.assignees, "comment")
        if facts.parent_author is not None:
            tell([facts.parent_author], "reply")
        tell(mentioned(str(data.get("body", "")), facts.members.values()), "mention")
    return [
        Notice(user, kind, task_id, extra)
        for user, kind in sorted(wanted.items(), key=lambda item: str(item[0]))
        if user != actor and user in facts.members
    ]
