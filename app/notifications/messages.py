"""A notification in plain language: e-mail subject, text and HTML, and the webhook's JSON."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.alarms.catalogue import FaultCode, describe
from app.config import PROJECT_ROOT
from app.core.enums import AlarmPriority
from app.notifications.rules import AlarmFacts

TEMPLATES = Environment(
    loader=FileSystemLoader(PROJECT_ROOT / "templates" / "notifications"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class Rendered:
    """What the outbox keeps for one message."""

    subject: str
    body_text: str
    body_html: str
    payload: dict[str, Any]


def where(alarm: AlarmFacts) -> str:
    """The asset in words: site, string, module and cell as far as known."""
    parts = [alarm.site_name]
    if alarm.string_name:
        parts.append(alarm.string_name)
    if alarm.module_position is not None:
        parts.append(f"module {alarm.module_position}")
    if alarm.cell_index is not None:
        parts.append(f"cell {alarm.cell_index + 1}")
    return ", ".join(parts)


def reading(alarm: AlarmFacts, entry: FaultCode) -> str:
    """The value against its limit, with the unit ('' when the alarm has no value)."""
    if alarm.value is None:
        return ""
    unit = f" {entry.unit}" if entry.unit else ""
    text = f"{alarm.value:g}{unit}"
    return text if alarm.threshold is None else f"{text} (limit {alarm.threshold:g}{unit})"


def alarm_link(public_url: str, alarm: AlarmFacts) -> str:
    """The alarm on the alarms page of its site."""
    return f"{public_url.rstrip('/')}/alarms?site={alarm.site_code}#alarm-{alarm.alarm_id}"


def render(alarm: AlarmFacts, *, event: str, delivery_id: UUID, public_url: str) -> Rendered:
    """The message about one event of one alarm."""
    entry = describe(alarm.code)
    context = {
        "alarm": alarm,
        "entry": entry,
        "event": event,
        "priority": AlarmPriority(alarm.priority).name.lower(),
        "where": where(alarm),
        "reading": reading(alarm, entry),
        "link": alarm_link(public_url, alarm),
        "delivery_id": delivery_id,
    }
    subject = f"[{context['priority']}] {entry.title} {event}: {where(alarm)}"
    payload = {
        "delivery_id": str(delivery_id),
        "event": event,
        "alarm_id": alarm.alarm_id,
        "site": alarm.site_code,
        "site_id": alarm.site_id,
        "code": alarm.code,
        "title": entry.title,
        "priority": alarm.priority,
        "state": alarm.state,
        "message": alarm.message,
        "where": where(alarm),
        "value": alarm.value,
        "threshold": alarm.threshold,
        "unit": entry.unit,
        "cell": alarm.cell_index,
        "operator_action": entry.operator_action,
        "raised_at": alarm.raised_at.isoformat(),
        "link": context["link"],
    }
    return Rendered(
        subject,
        TEMPLATES.get_template("alarm.txt").render(context),
        TEMPLATES.get_template("alarm.html").render(context),
        payload,
    )
