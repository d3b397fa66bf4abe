"""Board export and import through the API: the document's shape, an exact round trip, CSV
and zip exports (files streamed from the session's local storage), Trello's export imported
with its order, labels, checklists, comments and members, and imports that are all or nothing
and answered once however often they are asked for. The worker's part (transfer.service.run)
runs here on the test's own transaction."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from taskboard.access.models import Board
from taskboard.core.runtime import Resources
from taskboard.transfer import builder, service
from tests.api.test_attachments import PNG, new_task, upload
from tests.helpers import PASSWORD, ApiClient, User

API = "/api/v1"
TRELLO = Path(__file__).resolve().parent.parent / "fixtures" / "trello" / "board.json"


async def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def account(api: ApiClient, email: str, name: str) -> User:
    """A user whose address the test chooses (documents name people by address)."""
    made = await api.http.post(
        f"{API}/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": name},
    )
    assert made.status_code == 201, made.text
    return await api.login(User(id=made.json()["id"], email=email, headers={}, tokens={}))


async def export(api: ApiClient, user: User, board_id: str) -> dict[str, Any]:
    return await _ok(await api.http.get(f"{API}/boards/{board_id}/export", headers=user.headers))


async def run_import(
    api: ApiClient,
    resources: Resources,
    user: User,
    body: Any,
    *,
    path: str = "/boards/import",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Ask for the import (202), run the worker's part here, and answer the finished job."""
    job = await _ok(
        await api.http.post(f"{API}{path}", json=body, headers={**user.headers, **(headers or {})}),
        202,
    )
    assert job["status"] == "queued"
    await service.run(resources, uuid.UUID(job["id"]))
    return await _ok(await api.http.get(f"{API}/imports/{job['id']}", headers=user.headers))


async def rich_board(api: ApiClient, owner: User, members: dict[str, User]) -> str:
    """A board with something of everything a document carries (files aside)."""
    board = await api.board(owner, "Launch")
    board_id = board["id"]
    h = owner.headers
    await _ok(
        await api.http.patch(
            f"{API}/boards/{board_id}", json={"description": "Q1 *launch*"}, headers=h
        )
    )
    for user, role in ((members["ada"], "member"), (members["vic"], "viewer")):
        await api.add_member(board_id, owner, user, role)
    await _ok(
        await api.http.post(
            f"{API}/boards/{board_id}/columns",
            json={"name": "Review", "key": "review", "wip_limit": 3, "after_key": "in_progress"},
            headers=h,
        ),
        201,
    )
    bug = await _ok(
        await api.http.post(
            f"{API}/boards/{board_id}/labels", json={"name": "bug", "color": "#dc2626"}, headers=h
        ),
        201,
    )
    docs = await _ok(
        await api.http.post(f"{API}/boards/{board_id}/labels", json={"name": "Docs"}, headers=h),
        201,
    )
    ada = members["ada"]
    first = await api.task(
        board_id,
        owner,
        title="Write the announcement",
        description="Draft in **Markdown**",
        priority="high",
        assignee_ids=[ada.id, owner.id],
        labels=[bug["id"], docs["id"]],
        start_at="2027-01-10T09:00:00Z",
        due_at="2027-01-15T17:00:00.250000Z",
    )
    second = await api.task(board_id, ada, title="Pick a date", status="review")
    third = await api.task(board_id, owner, title="Book the hall")
    await api.task(board_id, owner, title="=cmd|' /C calc'!A0")
    # Order that is not creation order: the third before the first.
    await _ok(
        await api.http.post(
            f"{API}/tasks/{third['id']}/move",
            json={"status": "todo", "before_id": first["id"]},
            headers=h,
        )
    )
    trashed = await api.task(board_id, owner, title="Old idea", status="done")
    assert (await api.http.delete(f"{API}/tasks/{trashed['id']}", headers=h)).status_code == 204
    top = await _ok(
        await api.http.post(
            f"{API}/tasks/{first['id']}/comments", json={"body": "Who writes it?"}, headers=h
        ),
        201,
    )
    await _ok(
        await api.http.post(
            f"{API}/tasks/{first['id']}/comments",
            json={"body": "I do", "parent_id": top["id"]},
            headers=ada.headers,
        ),
        201,
    )
    gone = await _ok(
        await api.http.post(
            f"{API}/tasks/{first['id']}/comments",
            json={"body": "oops", "parent_id": top["id"]},
            headers=ada.headers,
        ),
        201,
    )
    deleted = await api.http.delete(f"{API}/comments/{gone['id']}", headers=ada.headers)
    assert deleted.status_code == 204
    edited = await api.http.patch(
        f"{API}/comments/{top['id']}", json={"body": "Who writes it, and when?"}, headers=h
    )
    assert edited.status_code == 200, edited.text
    await _ok(
        await api.http.post(
            f"{API}/tasks/{second['id']}/comments", json={"body": "Friday?"}, headers=ada.headers
        ),
        201,
    )
    return str(board_id)


@pytest.fixture
async def people(api: ApiClient) -> dict[str, User]:
    tag = uuid.uuid4().hex[:8]
    return {
        "owner": await account(api, f"owner-{tag}@example.com", "Owner"),
        "ada": await account(api, f"ada-{tag}@example.com", "Ada"),
        "vic": await account(api, f"vic-{tag}@example.com", "Vic"),
    }


async def test_the_export_document_names_everything(
    api: ApiClient, people: dict[str, User]
) -> None:
    owner, ada, vic = people["owner"], people["ada"], people["vic"]
    board_id = await rich_board(api, owner, people)
    document = await export(api, owner, board_id)
    assert document["format"] == "taskboard.board"
    assert document["version"] == 1
    assert document["exported_at"].endswith("Z")
    assert document["board"] == {"name": "Launch", "description": "Q1 *launch*"}
    assert [(c["key"], c["wip_limit"]) for c in document["columns"]] == [
        ("todo", None),
        ("in_progress", None),
        ("review", 3),
        ("done", None),
    ]
    assert document["labels"] == [
        {"name": "bug", "color": "#dc2626"},
        {"name": "Docs", "color": "#6b7280"},
    ]
    assert sorted((m["email"], m["role"]) for m in document["members"]) == sorted(
        [(owner.email, "owner"), (ada.email, "member"), (vic.email, "viewer")]
    )
    tasks = document["tasks"]
    assert [(t["column"], t["title"], t["deleted_at"] is None) for t in tasks] == [
        ("todo", "Book the hall", True),
        ("todo", "Write the announcement", True),
        ("todo", "=cmd|' /C calc'!A0", True),
        ("review", "Pick a date", True),
        ("done", "Old idea", False),
    ]
    first = tasks[1]
    assert first["priority"] == "high"
    assert first["assignees"] == sorted([ada.email, owner.email], key=str.casefold)
    assert first["labels"] == ["bug", "Docs"]
    assert first["start_at"] == "2027-01-10T09:00:00Z"
    assert first["due_at"] == "2027-01-15T17:00:00.250000Z"
    assert first["created_by"] == owner.email
    thread = first["comments"]
    assert [(c["author"], c["body"], c["parent"]) for c in thread] == [
        (owner.email, "Who writes it, and when?", None),
        (ada.email, "I do", 0),
        (ada.email, "", 0),  # deleted: the words are gone, the thread keeps its shape
    ]
    assert thread[0]["edited_at"] is not None
    assert thread[2]["deleted_at"] is not None
    assert tasks[3]["comments"][0]["author"] == ada.email
    assert tasks[3]["created_by"] == ada.email


async def test_export_import_export_is_the_same_document(
    api: ApiClient, resources: Resources, people: dict[str, User]
) -> None:
    owner = people["owner"]
    board_id = await rich_board(api, owner, people)
    before = await export(api, owner, board_id)
    job = await run_import(api, resources, owner, before)
    assert job["status"] == "done", job
    assert job["progress"] == job["total"] == 5 + 4  # tasks, comments
    new_board = job["board_id"]
    assert new_board != board_id
    result = job["result"]
    assert (result["tasks"], result["trashed"], result["comments"]) == (5, 1, 4)
    assert (result["columns"], result["labels"]) == (4, 2)
    assert sorted(m["role"] for m in result["members_added"]) == ["member", "viewer"]
    assert result["unmatched_members"] == []
    after = await export(api, owner, new_board)
    for document in (before, after):
        document.pop("exported_at")
    assert after == before
    # The new board is the importer's, in their list, with one event in its log.
    snapshot = await _ok(await api.http.get(f"{API}/boards/{new_board}", headers=owner.headers))
    assert snapshot["role"] == "owner"
    assert snapshot["seq"] == 1
    assert [t["title"] for t in snapshot["tasks"] if t["status"] == "todo"] == [
        "Book the hall",
        "Write the announcement",
        "=cmd|' /C calc'!A0",
    ]
    assert {t["title"]: t["comment_count"] for t in snapshot["tasks"]}[
        "Write the announcement"
    ] == 2
    log = await _ok(
        await api.http.get(f"{API}/boards/{new_board}/events?after=0", headers=owner.headers)
    )
    assert [e["type"] for e in log["items"]] == ["board.imported"]
    data = log["items"][0]["data"]
    assert (data["source"], data["tasks"], data["import_id"]) == ("taskboard", 5, job["id"])
    assert [c["key"] for c in data["columns"]] == ["todo", "in_progress", "review", "done"]
    # Members who were matched see it too, with their roles.
    ada_view = await _ok(
        await api.http.get(f"{API}/boards/{new_board}", headers=people["ada"].headers)
    )
    assert ada_view["role"] == "member"
    # A task made afterwards goes after the imported ones.
    later = await api.task(new_board, owner, title="Later")
    assert later["position"] > max(t["position"] for t in snapshot["tasks"])


async def test_an_importer_owns_the_copy_and_strangers_are_reported(
    api: ApiClient, resources: Resources, people: dict[str, User]
) -> None:
    owner, ada = people["owner"], people["ada"]
    board_id = await rich_board(api, owner, people)
    document = await export(api, owner, board_id)
    document["members"].append({"email": "nobody-here@example.com", "role": "admin"})
    document["tasks"][0]["assignees"] = ["stranger@example.com"]
    # Ada imports it: she owns the new board, the old owner becomes an admin.
    job = await run_import(api, resources, ada, document)
    assert job["status"] == "done", job
    roles = {m["email"]: m["role"] for m in job["result"]["members_added"]}
    assert roles == {owner.email: "admin", people["vic"].email: "viewer"}
    unmatched = {u["name"]: u["reason"] for u in job["result"]["unmatched_members"]}
    assert unmatched == {
        "nobody-here@example.com": "no such account",
        "stranger@example.com": "named by tasks or comments but not a member",
    }
    snapshot = await _ok(await api.http.get(f"{API}/boards/{job['board_id']}", headers=ada.headers))
    assert snapshot["role"] == "owner"
    assert next(t for t in snapshot["tasks"] if t["title"] == "Book the hall")["assignee_ids"] == []


async def test_viewers_and_members_cannot_export_and_outsiders_are_told_nothing(
    api: ApiClient, people: dict[str, User]
) -> None:
    owner = people["owner"]
    board_id = await rich_board(api, owner, people)
    for suffix in ("export", "export.csv", "export.zip"):
        url = f"{API}/boards/{board_id}/{suffix}"
        assert (await api.http.get(url, headers=people["vic"].headers)).status_code == 403
        assert (await api.http.get(url, headers=people["ada"].headers)).status_code == 403
        stranger = await api.user("stranger")
        assert (await api.http.get(url, headers=stranger.headers)).status_code == 404
    await api.add_member(board_id, owner, people["ada"], "admin")
    assert (await export(api, people["ada"], board_id))["board"]["name"] == "Launch"


async def test_csv_holds_the_live_tasks_with_formulas_defused(
    api: ApiClient, people: dict[str, User]
) -> None:
    owner = people["owner"]
    board_id = await rich_board(api, owner, people)
    response = await api.http.get(f"{API}/boards/{board_id}/export.csv", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="Launch.csv"')
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["title"], r["column"], r["position"]) for r in rows] == [
        ("Book the hall", "To do", "1"),
        ("Write the announcement", "To do", "2"),
        ("'=cmd|' /C calc'!A0", "To do", "3"),  # shown as text, never run
        ("Pick a date", "Review", "1"),
    ]  # the trash is not in it
    first = rows[1]
    assert first["priority"] == "high"
    assert first["labels"] == "bug, Docs"
    assert sorted(first["assignees"].split(", ")) == sorted([people["ada"].email, owner.email])
    assert first["start (UTC)"] == "2027-01-10 09:00:00"
    assert first["due (UTC)"] == "2027-01-15 17:00:00"
    assert first["description"] == "Draft in **Markdown**"
    assert first["created (UTC)"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_quoted(start: str) -> None:
    from taskboard.transfer.sheets import cell

    assert cell(f"{start}1+1") == f"'{start}1+1"
    assert cell("plain") == "plain"


async def test_the_zip_holds_the_document_and_the_files(
    api: ApiClient, people: dict[str, User]
) -> None:
    owner = people["owner"]
    board = await api.board(owner, "Files")
    task_id = await new_task(api, owner, board, "With files")
    notes = b"plain notes\n" * 1000
    for name, content in (("dot.png", PNG), ("../notes.txt", notes)):
        assert (await upload(api, owner, task_id, name, content)).status_code == 201
    response = await api.http.get(f"{API}/boards/{board['id']}/export.zip", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[0] == "board.json"
    document = json.loads(archive.read("board.json"))
    files = document["tasks"][0]["attachments"]
    assert [(f["filename"], f["size"]) for f in files] == [
        ("dot.png", len(PNG)),
        ("notes.txt", len(notes)),
    ]
    for record, content in zip(files, (PNG, notes), strict=True):
        assert record["path"] in names
        assert not record["path"].startswith(("/", ".."))
        data = archive.read(record["path"])
        assert data == content
        assert hashlib.sha256(data).hexdigest() == record["sha256"]
        assert record["uploaded_by"] == owner.email
    # The JSON export carries the records, not the bytes.
    plain = await export(api, owner, board["id"])
    assert [f["path"] for f in plain["tasks"][0]["attachments"]] == [None, None]


async def test_a_json_import_reports_the_files_it_cannot_bring(
    api: ApiClient, resources: Resources, people: dict[str, User]
) -> None:
    owner = people["owner"]
    board = await api.board(owner, "Files")
    task_id = await new_task(api, owner, board, "With files")
    assert (await upload(api, owner, task_id, "dot.png", PNG)).status_code == 201
    job = await run_import(api, resources, owner, await export(api, owner, board["id"]))
    assert job["result"]["attachments_skipped"] == 1


def trello_export(**emails: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(TRELLO.read_text())
    for member in board["members"]:
        if member["username"] in emails:
            member["email"] = emails[member["username"]]
    return board


async def test_a_trello_export_imports_with_its_order_labels_checklists_and_comments(
    api: ApiClient, resources: Resources, people: dict[str, User]
) -> None:
    owner, ada, vic = people["owner"], people["ada"], people["vic"]
    job = await run_import(
        api,
        resources,
        owner,
        trello_export(ada=ada.email, olive=vic.email),
        path="/boards/import/trello",
    )
    assert job["status"] == "done", job
    assert job["source"] == "trello"
    result = job["result"]
    assert {(m["email"], m["role"]) for m in result["members_added"]} == {
        (ada.email, "admin"),
        (vic.email, "viewer"),
    }
    unmatched = {u["name"]: u["reason"] for u in result["unmatched_members"]}
    assert unmatched == {
        "Grace Hopper (@grace)": "no e-mail address in the export",
        "linus@trello.invalid": "no such account",
    }
    document = await export(api, owner, job["board_id"])
    assert document["board"] == {
        "name": "Website relaunch",
        "description": "Everything for the relaunch in **May**.",
    }
    # Lists in `pos` order; the archived list is no column.
    assert [(c["key"], c["name"]) for c in document["columns"]] == [
        ("to_do", "To Do"),
        ("doing", "Doing"),
        ("done", "Done"),
    ]
    assert sorted((label["name"], label["color"]) for label in document["labels"]) == [
        ("Blocked", "#991b1b"),
        ("Purple", "#9333ea"),
        ("Ready", "#16a34a"),
        ("Someday", "#6b7280"),
    ]
    # Cards in `pos` order; archived cards and the archived list's cards in the trash.
    assert [(t["column"], t["title"], t["deleted_at"] is not None) for t in document["tasks"]] == [
        ("to_do", "Pick the fonts", False),
        ("to_do", "Write the copy", False),
        ("to_do", "Mascot", True),
        ("doing", '=HYPERLINK("http://evil.example")', False),
        ("done", "Launch party", True),
    ]
    copy_task = document["tasks"][1]
    assert copy_task["labels"] == ["Purple", "Ready"]
    assert copy_task["assignees"] == [ada.email]
    assert copy_task["due_at"] == "2024-05-01T10:00:00Z"
    assert copy_task["start_at"] == "2024-04-20T08:00:00Z"
    assert copy_task["created_at"] == "2018-04-15T21:46:21Z"  # read from the card's id
    description = copy_task["description"]
    assert description.startswith("Tone: friendly.\n\n### Sections\n\n")
    assert "- [x] Hero\n- [ ] Pricing\n- [ ] FAQ" in description
    assert (
        "- [brief \\[v2\\].pdf](https://trello.com/1/cards/5ad3c82d8ac5afdb542bf3d2/"
        "attachments/5ad3c8f0b1a2c3d4e5f60718/download/brief.pdf)" in description
    )
    assert "- sneaky" in description
    assert "javascript:" not in description
    # Comments oldest first; the one whose author has no address is credited in its text.
    assert [(c["author"], c["body"]) for c in copy_task["comments"]] == [
        (ada.email, "First draft is up"),
        (None, "*Grace Hopper (@grace) on Trello:*\n\nLooks good to me"),
    ]
    assert copy_task["comments"][0]["created_at"] == "2024-03-05T09:00:00Z"
    assert document["tasks"][3]["assignees"] == []  # Grace: no address, no assignment


async def test_an_import_that_fails_halfway_leaves_no_board(
    api: ApiClient,
    resources: Resources,
    people: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = people["owner"]
    document = await export(api, owner, await rich_board(api, owner, people))
    job = await _ok(
        await api.http.post(f"{API}/boards/import", json=document, headers=owner.headers), 202
    )
    monkeypatch.setattr(builder, "BATCH", 2)
    real_insert = builder._insert
    written: list[str] = []

    async def insert_then_die(uow: Any, model: Any, rows: Any) -> None:
        await real_insert(uow, model, rows)
        written.append(model.__name__)
        if written.count("Task") == 2:  # the second batch of tasks is in: the process dies
            raise ConnectionResetError("the database went away")

    monkeypatch.setattr(builder, "_insert", insert_then_die)
    boards_before = await _boards(resources)
    with pytest.raises(ConnectionResetError):
        await service.run(resources, uuid.UUID(job["id"]), final=False)  # Dramatiq retries
    assert await _boards(resources) == boards_before
    await service.run(resources, uuid.UUID(job["id"]), final=True)  # the last attempt
    assert await _boards(resources) == boards_before
    failed = await _ok(await api.http.get(f"{API}/imports/{job['id']}", headers=owner.headers))
    assert failed["status"] == "failed"
    assert failed["board_id"] is None
    assert "could not be completed" in failed["error"]


async def _boards(resources: Resources) -> int:
    async with resources.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Board)) or 0)


async def test_asking_again_answers_the_same_job_and_running_again_makes_no_second_board(
    api: ApiClient, resources: Resources, people: dict[str, User]
) -> None:
    owner = people["owner"]
    document = await export(api, owner, await rich_board(api, owner, people))
    keyed = {**owner.headers, "Idempotency-Key": "import-1"}
    first = await _ok(
        await api.http.post(f"{API}/boards/import", json=document, headers=keyed), 202
    )
    assert first["status"] == "queued"
    assert (await api.http.post(f"{API}/boards/import", json=document, headers=keyed)).json()[
        "id"
    ] == first["id"]
    other = copy.deepcopy(document)
    other["board"]["name"] = "Another"
    reused = await api.http.post(f"{API}/boards/import", json=other, headers=keyed)
    assert reused.status_code == 422
    assert reused.json()["errors"][0] == {
        "field": "Idempotency-Key",
        "rule": "reused",
        "message": "was used for another import",
    }
    boards_before = await _boards(resources)
    await service.run(resources, uuid.UUID(first["id"]))
    await service.run(resources, uuid.UUID(first["id"]))  # a redelivered message
    assert await _boards(resources) == boards_before + 1
    again = await api.http.post(f"{API}/boards/import", json=document, headers=keyed)
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"/api/v1/imports/{first['id']}"
    assert (again.json()["id"], again.json()["status"]) == (first["id"], "done")
    # Without a key, the same body within the window is the same job too...
    plain = await _ok(
        await api.http.post(f"{API}/boards/import", json=other, headers=owner.headers), 202
    )
    repeat = await _ok(
        await api.http.post(f"{API}/boards/import", json=other, headers=owner.headers), 202
    )
    assert repeat["id"] == plain["id"]
    # ...and nobody else's.
    ada = people["ada"]
    theirs = await _ok(
        await api.http.post(f"{API}/boards/import", json=other, headers=ada.headers), 202
    )
    assert theirs["id"] != plain["id"]
    assert (
        await api.http.get(f"{API}/imports/{plain['id']}", headers=ada.headers)
    ).status_code == 404


async def test_a_document_whose_parts_do_not_fit_is_refused_naming_them(
    api: ApiClient, people: dict[str, User]
) -> None:
    owner = people["owner"]
    document: dict[str, Any] = {
        "format": "taskboard.board",
        "version": 1,
        "board": {"name": "Broken"},
        "columns": [{"key": "todo", "name": "To do"}, {"key": "todo", "name": "Again"}],
        "labels": [{"name": "Bug"}, {"name": "bug"}],
        "tasks": [
            {"title": "A", "column": "nowhere", "labels": ["feature"]},
            {"title": "B", "column": "todo", "comments": [{"body": "x", "parent": 0}]},
        ],
    }
    refused = await api.http.post(f"{API}/boards/import", json=document, headers=owner.headers)
    assert refused.status_code == 422, refused.text
    assert {(e["field"], e["rule"]) for e in refused.json()["errors"]} == {
        ("columns.1.key", "unique"),
        ("labels.1.name", "unique"),
        ("tasks.0.column", "exists"),
        ("tasks.0.labels", "exists"),
        ("tasks.1.comments.0.parent", "earlier"),
    }
    document["version"] = 2
    wrong = await api.http.post(f"{API}/boards/import", json=document, headers=owner.headers)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "version"


async def test_quotas_hold_for_imports(
    api: ApiClient, settings: Any, resources: Resources, people: dict[str, User]
) -> None:
    owner = people["owner"]
    document = {
        "format": "taskboard.board",
        "version": 1,
        "board": {"name": "Big"},
        "columns": [
            {"key": f"c{i}", "name": f"C{i}"} for i in range(settings.quota_columns_per_board + 1)
        ],
    }
    refused = await api.http.post(f"{API}/boards/import", json=document, headers=owner.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["quota"] == "columns on a board"


async def test_import_bodies_have_a_cap_of_their_own(
    api: ApiClient, settings: Any, people: dict[str, User]
) -> None:
    owner = people["owner"]
    # Over the ordinary body cap, under the import cap: taken.
    big = {
        "format": "taskboard.board",
        "version": 1,
        "board": {"name": "Big"},
        "columns": [{"key": "todo", "name": "To do"}],
        "tasks": [
            {"title": f"Task {i}", "column": "todo", "description": "x" * 5000}
            for i in range(settings.max_body_bytes // 5000 + 10)
        ],
    }
    body = json.dumps(big).encode()
    assert settings.max_body_bytes < len(body) < settings.import_max_bytes
    taken = await api.http.post(
        f"{API}/boards/import",
        content=body,
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert taken.status_code == 202, taken.text
    assert taken.json()["total"] == len(big["tasks"])
    # Past the import cap: 413 before the body is read.
    over = await api.http.post(
        f"{API}/boards/import",
        content=b"{" + b" " * settings.import_max_bytes + b"}",
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert over.status_code == 413
    assert over.json()["type"] == "/problems/payload-too-large"
