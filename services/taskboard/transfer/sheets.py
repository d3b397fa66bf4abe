"""The board's tasks as CSV, for spreadsheets.

UTF-8 with a byte-order mark: Excel reads a CSV without one in the machine's legacy code page
(accents and every non-Latin script garbled), and LibreOffice, Google Sheets, Numbers and
Python's csv module (`utf-8-sig`) all take the mark. Cells a spreadsheet would run as a formula
(starting with `=`, `+`, `-`, `@`, a tab or a carriage return) get a leading `'`, as OWASP's
CSV-injection advice says: the cell then shows the text, never its result."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from taskboard.transfer.document import BoardDocument

BOM = "\ufeff"
HEADER = [
    "title",
    "column",
    "position",
    "priority",
    "assignees",
    "labels",
    "start (UTC)",
    "due (UTC)",
    "created (UTC)",
    "description",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """Text a spreadsheet shows as text, whatever it starts with."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def rows(document: BoardDocument) -> Iterator[list[str]]:
    """The live tasks (the trash left out), column by column in the board's order; `position`
    counts from 1 in each column."""
    names = {c.key: c.name for c in document.columns}
    order = {c.key: i for i, c in enumerate(document.columns)}
    live = [t for t in document.tasks if t.deleted_at is None]
    live.sort(key=lambda t: order.get(t.column, len(order)))  # stable: column order kept
    counted: dict[str, int] = {}
    for task in live:
        counted[task.column] = position = counted.get(task.column, 0) + 1
        yield [
            cell(task.title),
            cell(names.get(task.column, task.column)),
            str(position),
            task.priority,
            cell(", ".join(task.assignees)),
            cell(", ".join(task.labels)),
            _time(task.start_at),
            _time(task.due_at),
            _time(task.created_at),
            cell(task.description),
        ]


def write(document: BoardDocument) -> str:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow(HEADER)
    writer.writerows(rows(document))
    return out.getvalue()
