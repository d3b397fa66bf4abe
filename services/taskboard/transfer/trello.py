"""Trello's JSON export (a board's Menu > Print, export and share > Export as JSON) as a board
document. Pure: no database. Trello's shape is read leniently (it adds fields all the time and
omits what a board does not use); whatever cannot be carried over as it is (a title longer than
ours, a date outside 1970-9998, a member without an e-mail address) is adapted and said so in
the import's result.

- lists -> columns in `pos` order; a closed (archived) list is no column: its cards go to the
  trash of the first column, where they can be restored;
- cards -> tasks in `pos` order within their list; closed cards go to the trash; `due` and
  `start` are kept, the creation time read from the card's id (Trello ids begin with it);
- labels -> labels (an unnamed one is named after its colour), Trello's colours mapped to ours;
- checklists -> Markdown task lists (`- [x] item`) at the end of the description;
- attachments -> Markdown links in an "Attachments" section of the description (the files
  stay on Trello);
- comments (actions of type commentCard, oldest first) -> comments, by the member's e-mail
  when the export has one, else by nobody and credited in the text;
- members with an e-mail address -> members (admin -> admin, normal -> member, observer ->
  viewer), matched to accounts by the worker; the others are reported.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from taskboard.core.schemas import Flag, Number
from taskboard.transfer.document import (
    FORMAT,
    VERSION,
    BoardDocument,
    DocBoard,
    DocColumn,
    DocComment,
    DocLabel,
    DocMember,
    DocTask,
)
from taskboard.transfer.schemas import ImportResult, Unmatched

# Trello's label colours -> ours (the web client's label palette: Tailwind's 600 shades, the
# _dark ones 800, the _light ones 300); a label without colour gets the default grey.
PALETTE = {
    "green": "#16a34a",
    "yellow": "#ca8a04",
    "orange": "#ea580c",
    "red": "#dc2626",
    "purple": "#9333ea",
    "blue": "#2563eb",
    "sky": "#0284c7",
    "lime": "#65a30d",
    "pink": "#db2777",
    "black": "#374151",
}
_DARK = {
    "green": "#166534",
    "yellow": "#854d0e",
    "orange": "#9a3412",
    "red": "#991b1b",
    "purple": "#6b21a8",
    "blue": "#1e40af",
    "sky": "#075985",
    "lime": "#3f6212",
    "pink": "#9d174d",
    "black": "#1f2937",
}
_LIGHT = {
    "green": "#86efac",
    "yellow": "#fde047",
    "orange": "#fdba74",
    "red": "#fca5a5",
    "purple": "#d8b4fe",
    "blue": "#93c5fd",
    "sky": "#7dd3fc",
    "lime": "#bef264",
    "pink": "#f9a8d4",
    "black": "#d1d5db",
}
DEFAULT_COLOR = "#6b7280"
ROLES: dict[str, Literal["admin", "member", "viewer"]] = {
    "admin": "admin",
    "normal": "member",
    "observer": "viewer",
}


# ---- Trello's shapes, as far as the import reads them (other fields are ignored).


class _Trello(BaseModel):
    pass


class TrelloList(_Trello):
    id: str
    name: str = ""
    closed: Flag = False
    pos: Number = 0


class TrelloAttachment(_Trello):
    name: str = ""
    url: str = ""


class TrelloCard(_Trello):
    id: str
    name: str = ""
    desc: str = ""
    idList: str | None = None
    closed: Flag = False
    pos: Number = 0
    due: str | None = None
    start: str | None = None
    dueComplete: Flag = False
    idLabels: list[str] = []
    idMembers: list[str] = []
    attachments: list[TrelloAttachment] = []
    dateLastActivity: str | None = None


class TrelloLabel(_Trello):
    id: str
    name: str | None = None
    color: str | None = None


class TrelloCheckItem(_Trello):
    name: str = ""
    state: str = "incomplete"
    pos: Number = 0


class TrelloChecklist(_Trello):
    idCard: str
    name: str = ""
    pos: Number = 0
    checkItems: list[TrelloCheckItem] = []


class TrelloCardRef(_Trello):
    id: str


class TrelloActionData(_Trello):
    text: str | None = None
    card: TrelloCardRef | None = None


class TrelloMemberRef(_Trello):
    id: str | None = None
    fullName: str | None = None
    username: str | None = None


class TrelloAction(_Trello):
    type: str
    date: str | None = None
    idMemberCreator: str | None = None
    data: TrelloActionData = TrelloActionData()
    memberCreator: TrelloMemberRef | None = None


class TrelloMember(_Trello):
    id: str
    fullName: str = ""
    username: str = ""
    email: str | None = Field(None, description="present in exports made by a workspace admin")


class TrelloMembership(_Trello):
    idMember: str
    memberType: str = "normal"
    deactivated: Flag = False


class TrelloBoard(_Trello):
    """A Trello board's JSON export (the fields the import reads; others are ignored)."""

    name: str = ""
    desc: str = ""
    lists: list[TrelloList] = []
    cards: list[TrelloCard] = []
    labels: list[TrelloLabel] = []
    checklists: list[TrelloChecklist] = []
    actions: list[TrelloAction] = []
    members: list[TrelloMember] = []
    memberships: list[TrelloMembership] = []


# ---- conversion


def _text(value: str | None, limit: int, notes: list[str] | None = None, what: str = "") -> str:
    """No NUL (PostgreSQL text cannot hold it), at most `limit` characters."""
    text = (value or "").replace("\x00", "")
    if len(text) > limit:
        if notes is not None:
            notes.append(f"{what} was cut to {limit} characters")
        text = text[: limit - 1] + "…"
    return text


def _name(value: str | None, limit: int, fallback: str) -> str:
    """One line, something besides whitespace, at most `limit` characters."""
    text = " ".join(_text(value, 100_000).split())
    if not text:
        text = fallback
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time(value: str | None) -> datetime | None:
    """Trello's ISO 8601 times; None for what is missing, unreadable or outside 1970-9998."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return parsed if 1970 <= parsed.year <= 9998 else None


def _created(trello_id: str) -> datetime | None:
    """Trello ids are MongoDB ObjectIds: their first 8 hex digits are the creation time."""
    if re.fullmatch(r"[0-9a-fA-F]{24}", trello_id) is None:
        return None
    created = datetime.fromtimestamp(int(trello_id[:8], 16), UTC)
    return created if 1970 <= created.year <= 9998 else None


def _color(color: str | None) -> str:
    if not color:
        return DEFAULT_COLOR
    base, _, shade = color.partition("_")
    table = {"dark": _DARK, "light": _LIGHT}.get(shade, PALETTE)
    return table.get(base, DEFAULT_COLOR)


def _key(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "list"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    taken.add(key)
    return key


def _markdown_text(value: str) -> str:
    """Text safe inside a Markdown link's label."""
    return re.sub(r"([\\\[\]])", r"\\\1", " ".join(value.split()))


def _link(attachment: TrelloAttachment) -> str:
    name = _markdown_text(_text(attachment.name, 500)) or "attachment"
    url = _text(attachment.url, 2000).strip()
    if re.match(r"(?i)^https?://[^\s]+$", url):
        url = url.replace("(", "%28").replace(")", "%29")
        return f"- [{name}]({url})"
    return f"- {name}"  # not a web address: named, never linked


def _description(
    card: TrelloCard, checklists: list[TrelloChecklist], notes: list[str], title: str
) -> str:
    parts = [_text(card.desc, 20_000)]
    for checklist in sorted(checklists, key=lambda c: c.pos):
        items = sorted(checklist.checkItems, key=lambda i: i.pos)
        lines = [f"### {_name(checklist.name, 200, 'Checklist')}", ""]
        lines += [
            f"- [{'x' if item.state == 'complete' else ' '}] {_name(item.name, 2000, '(empty)')}"
            for item in items
        ]
        parts.append("\n".join(lines))
    if card.attachments:
        parts.append("\n".join(["### Attachments", "", *(_link(a) for a in card.attachments)]))
    text = "\n\n".join(p for p in parts if p.strip())
    return _text(text, 20_000, notes, f"the description of {title!r}")


def convert(trello: TrelloBoard) -> tuple[BoardDocument, ImportResult]:
    """The board document, and what the conversion could not carry over as it was."""
    notes: list[str] = []
    unmatched: list[Unmatched] = []
    emails: dict[str, str] = {}
    member_names: dict[str, str] = {}
    for member in trello.members:
        member_names[member.id] = _name(
            f"{member.fullName} (@{member.username})" if member.username else member.fullName,
            200,
            "a Trello member",
        )
        email = _text(member.email, 320).strip()
        if len(email) >= 3:
            emails[member.id] = email
    roles: dict[str, str] = {}
    for membership in trello.memberships:
        if not membership.deactivated:
            roles[membership.idMember] = ROLES.get(membership.memberType, "member")
    members: list[DocMember] = []
    for member in trello.members:
        if member.id in emails:
            members.append(
                DocMember(
                    email=emails[member.id],
                    role=roles.get(member.id, "member"),
                    display_name=_text(member.fullName, 100) or None,
                )
            )
        else:
            unmatched.append(
                Unmatched(name=member_names[member.id], reason="no e-mail address in the export")
            )

    open_lists = sorted((lst for lst in trello.lists if not lst.closed), key=lambda lst: lst.pos)
    taken: set[str] = set()
    columns = [
        DocColumn(key=_key(lst.name, taken), name=_name(lst.name, 100, "List"))
        for lst in open_lists
    ]
    column_of = {lst.id: col.key for lst, col in zip(open_lists, columns, strict=True)}
    list_order = {lst.id: i for i, lst in enumerate(sorted(trello.lists, key=lambda x: x.pos))}
    if not columns and trello.cards:
        columns = [DocColumn(key="imported", name="Imported")]
    first = columns[0].key if columns else None

    labels: list[DocLabel] = []
    label_names: dict[str, str] = {}
    folded: set[str] = set()
    for label in trello.labels:
        base = _name(label.name, 50, (label.color or "label").replace("_", " ").capitalize())
        name, n = base, 1
        while name.casefold() in folded:
            n += 1
            name = f"{base[:45]} ({n})"
        folded.add(name.casefold())
        label_names[label.id] = name
        labels.append(DocLabel(name=name, color=_color(label.color)))

    checklists: dict[str, list[TrelloChecklist]] = {}
    for checklist in trello.checklists:
        checklists.setdefault(checklist.idCard, []).append(checklist)
    comments: dict[str, list[TrelloAction]] = {}
    for action in trello.actions:
        if action.type == "commentCard" and action.data.card is not None:
            comments.setdefault(action.data.card.id, []).append(action)

    cards = sorted(
        trello.cards,
        key=lambda c: (list_order.get(c.idList or "", len(list_order)), c.pos),
    )
    now = datetime.now(UTC)
    tasks: list[DocTask] = []
    for card in cards:
        title = _name(card.name, 200, "(untitled)")
        if len(" ".join(card.name.split())) > 200:
            notes.append(f"the title of card {card.id} was cut to 200 characters")
        column = column_of.get(card.idList or "")
        trashed = card.closed or column is None
        if column is None:
            column = first
        assert column is not None  # there is a column whenever there are cards
        due, start = _time(card.due), _time(card.start)
        if start is not None and due is not None and start > due:
            start = None
            notes.append(f"the start of {title!r} came after its due date and was left out")
        created = _created(card.id)
        activity = _time(card.dateLastActivity)
        thread = sorted(comments.get(card.id, []), key=lambda a: _time(a.date) or now)
        tasks.append(
            DocTask(
                title=title,
                description=_description(card, checklists.get(card.id, []), notes, title),
                column=column,
                assignees=[emails[m] for m in dict.fromkeys(card.idMembers) if m in emails][:50],
                labels=list(
                    dict.fromkeys(label_names[i] for i in card.idLabels if i in label_names)
                )[:50],
                start_at=start,
                due_at=due,
                created_at=created,
                updated_at=max(activity, created) if activity and created else activity or created,
                deleted_at=(activity or now) if trashed else None,
                comments=[_comment(action, emails, member_names, notes) for action in thread],
            )
        )
    document = BoardDocument(
        format=FORMAT,
        version=VERSION,
        board=DocBoard(
            name=_name(trello.name, 200, "Trello board"),
            description=_text(trello.desc, 20_000, notes, "the board's description"),
        ),
        columns=columns,
        labels=labels,
        members=members,
        tasks=tasks,
    )
    return document, ImportResult(unmatched_members=unmatched, notes=notes[:100])


def _comment(
    action: TrelloAction, emails: dict[str, str], names: dict[str, str], notes: list[str]
) -> DocComment:
    author_id = action.idMemberCreator or (
        action.memberCreator.id if action.memberCreator else None
    )
    text = _text(action.data.text, 10_000)
    author = emails.get(author_id or "")
    if author is None:
        creator = action.memberCreator
        who = names.get(author_id or "") or _name(
            (creator.fullName or creator.username) if creator else None, 200, "a Trello member"
        )
        text = _text(f"*{_markdown_text(who)} on Trello:*\n\n{text}", 10_000, notes, "a comment")
    return DocComment(author=author, body=text, created_at=_time(action.date))
