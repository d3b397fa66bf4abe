"""What a document must satisfy beyond its JSON Schema: names that refer to each other, and the
quotas a board lives under. Checked when an import is asked for (422, 409) and again by the
worker before it builds."""

from __future__ import annotations

from taskboard.core.config import Settings
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.quotas import QuotaExceeded
from taskboard.transfer.document import BoardDocument

MAX_PROBLEMS = 20


def check(document: BoardDocument, settings: Settings) -> None:
    problems: list[FieldProblem] = []
    keys: set[str] = set()
    for i, column in enumerate(document.columns):
        if column.key in keys:
            problems.append(FieldProblem(f"columns.{i}.key", "unique", "another column has it"))
        keys.add(column.key)
    names: set[str] = set()
    for i, label in enumerate(document.labels):
        folded = label.name.casefold()
        if folded in names:
            problems.append(
                FieldProblem(f"labels.{i}.name", "unique", "another label has it (any case)")
            )
        names.add(folded)
    for i, task in enumerate(document.tasks):
        if task.column not in keys:
            problems.append(
                FieldProblem(f"tasks.{i}.column", "exists", f"no column {task.column!r}")
            )
        unknown = [name for name in task.labels if name.casefold() not in names]
        if unknown:
            problems.append(
                FieldProblem(f"tasks.{i}.labels", "exists", f"not in `labels`: {unknown[:5]}")
            )
        for j, comment in enumerate(task.comments):
            if comment.parent is not None and comment.parent >= j:
                problems.append(
                    FieldProblem(
                        f"tasks.{i}.comments.{j}.parent",
                        "earlier",
                        "must be the index of an earlier comment of this task",
                    )
                )
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise ValidationFailed(
            "The document's parts do not fit together", fields=problems[:MAX_PROBLEMS]
        )
    _quota(len(document.columns), settings.quota_columns_per_board, "columns on a board")
    _quota(len(document.labels), settings.quota_labels_per_board, "labels on a board")
    _quota(len(document.tasks), settings.quota_tasks_per_board, "tasks on a board")
    # The importer joins as owner, whoever else the document names.
    _quota(len(document.members) + 1, settings.quota_members_per_board, "members on a board")
    busiest = max((len(t.comments) for t in document.tasks), default=0)
    _quota(busiest, settings.quota_comments_per_task, "comments on a task")


def _quota(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise QuotaExceeded(
            f"The document holds {count} {what}; a board may hold at most {limit}",
            extra={"quota": what, "limit": limit},
        )
