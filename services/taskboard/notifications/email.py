"""The e-mail a notification becomes: subject, plain text and HTML (autoescaped: task titles
and comments are user text), written into the outbox beside the notification."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined

from taskboard.notifications.models import EmailOutbox
from taskboard.notifications.schemas import NotificationRead

SUBJECTS = {
    "assigned": "{actor} assigned you: {title}",
    "unassigned": "{actor} unassigned you: {title}",
    "status_changed": "{title}: {from_status} → {status}",
    "comment": "{actor} commented on {title}",
    "reply": "{actor} replied to you on {title}",
    "mention": "{actor} mentioned you on {title}",
    "due_soon": "Due {due}: {title}",
    "overdue": "Overdue since {due}: {title}",
    "webhook_disabled": "Webhook disabled: {url}",
}

_TEXT = """{{ subject }}

{% if excerpt %}{{ excerpt }}

{% endif %}Board: {{ board }}
Open it: {{ link }}

You get these e-mails because of your taskboard notification settings.
Stop them: {{ unsubscribe }}
"""

_HTML = """<!doctype html>
<html><body style="font-family: sans-serif">
<p><strong>{{ subject }}</strong></p>
{% if excerpt %}<blockquote>{{ excerpt }}</blockquote>{% endif %}
<p>Board: {{ board }} &middot; <a href="{{ link }}">Open it</a></p>
<p style="color: #555; font-size: small">You get these e-mails because of your taskboard
notification settings. <a href="{{ unsubscribe }}">Stop them</a>.</p>
</body></html>
"""

# Plain text is not HTML: escaping it would show &amp; to the reader.
_text = Environment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)  # noqa: S701
_html = Environment(autoescape=True, undefined=StrictUndefined)
TEXT_TEMPLATE = _text.from_string(_TEXT)
HTML_TEMPLATE = _html.from_string(_HTML)


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    email: str
    time_zone: str


def _local(moment: str | None, time_zone: str) -> str:
    if not moment:
        return ""
    when = datetime.fromisoformat(moment).astimezone(ZoneInfo(time_zone))
    return when.strftime("%a %d %b %Y %H:%M %Z")


def outbox_row(
    notification: NotificationRead,
    recipient: Recipient,
    *,
    actor: str,
    board: str,
    public_url: str,
    unsubscribe_url: str,
    domain: str,
) -> EmailOutbox:
    data = notification.data
    subject = SUBJECTS[notification.kind].format(
        actor=actor or "Someone",
        title=data.get("task_title") or "a task",
        from_status=data.get("from_status") or "",
        status=data.get("status") or "",
        due=_local(data.get("due_at"), recipient.time_zone),
        url=data.get("url") or "",
    )
    link = f"{public_url}/boards/{notification.board_id}"
    if notification.task_id is not None:
        link += f"/tasks/{notification.task_id}"
    values = {
        "subject": subject,
        "excerpt": data.get("excerpt") or "",
        "board": board,
        "link": link,
        "unsubscribe": unsubscribe_url,
    }
    return EmailOutbox(
        id=uuid.uuid4(),
        notification_id=notification.id,
        user_id=recipient.user_id,
        to_address=recipient.email,
        subject=subject,
        text_body=TEXT_TEMPLATE.render(values),
        html_body=HTML_TEMPLATE.render(values),
        message_id=f"<{notification.id}@{domain}>",
        state="pending",
        attempts=0,
    )
