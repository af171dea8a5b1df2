"""Flood control (ISA-18.2: more than 10 alarms in 10 minutes is a flood): while a site
floods, each recipient gets one digest per interval, sent when the interval ends, instead of
a message per alarm.

A digest is an outbox row keyed by site and interval; each flooded alarm appends a line to it
while it is still pending. Should it have gone out already, the alarm is sent on its own.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from uuid import uuid4

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.notifications.messages import alarm_link, reading, where
from app.notifications.rules import AlarmFacts

RAISED_RECENTLY = text("""
SELECT count(*) FROM alarm_notice n JOIN alarm a ON a.id = n.alarm_id
WHERE a.site_id = :site AND n.event = 'raised' AND n.at > :since
""")

UPSERT_DIGEST = text("""
INSERT INTO notification_outbox (delivery_id, digest_key, user_id, channel, target, subject,
                                 body_text, body_html, payload, next_attempt_at)
VALUES (:delivery_id, :key, :user_id, :channel, :target, :subject, :head_text || :line_text,
        :head_html || :line_html, CAST(:payload AS jsonb), :send_at)
ON CONFLICT (digest_key, user_id, channel) DO UPDATE
SET body_text = notification_outbox.body_text || :line_text,
    body_html = notification_outbox.body_html || :line_html,
    payload = jsonb_set(notification_outbox.payload, '{alarms}',
                        (notification_outbox.payload -> 'alarms') || CAST(:item AS jsonb))
WHERE notification_outbox.state = 'pending'
RETURNING id
""")


@dataclass(frozen=True, slots=True)
class FloodPolicy:
    """How many raises within how long make a flood, and the digest interval (the same)."""

    alarms: int
    window_s: float

    def interval(self, now: datetime) -> tuple[datetime, datetime]:
        """The digest interval `now` falls in."""
        start_s = math.floor(now.timestamp() / self.window_s) * self.window_s
        start = datetime.fromtimestamp(start_s, UTC)
        return start, start + timedelta(seconds=self.window_s)


async def flooding(
    session: AsyncSession, site_id: int, *, policy: FloodPolicy, now: datetime
) -> bool:
    """Whether the site has raised more than the policy's alarms within its window."""
    since = now - timedelta(seconds=policy.window_s)
    count = (await session.execute(RAISED_RECENTLY, {"site": site_id, "since": since})).scalar()
    return int(count or 0) > policy.alarms


@dataclass(frozen=True, slots=True)
class DigestLine:
    """One flooded alarm, as its digest tells it (text, HTML and the webhook's item)."""

    text: str
    html: str
    item: str


def digest_line(alarm_facts: AlarmFacts, *, event: str, public_url: str) -> DigestLine:
    """The alarm in one line."""
    entry = describe(alarm_facts.code)
    link = alarm_link(public_url, alarm_facts)
    value = reading(alarm_facts, entry)
    said = f"{entry.title} {event} at {where(alarm_facts)}" + (f": {value}" if value else "")
    item = {
        "alarm_id": alarm_facts.alarm_id,
        "code": alarm_facts.code,
        "event": event,
        "priority": alarm_facts.priority,
        "where": where(alarm_facts),
        "value": alarm_facts.value,
        "threshold": alarm_facts.threshold,
        "link": link,
    }
    html = f'<p><a href="{escape(link)}">{escape(said)}</a></p>\n'
    return DigestLine(f"- {said}\n  {link}\n", html, orjson.dumps([item]).decode())


def digest_params(
    line: DigestLine, *, site_id: int, site_name: str, start: datetime, end: datetime
) -> dict[str, object]:
    """The digest row's fields, for its first line (later lines only append)."""
    delivery_id = uuid4()
    since = start.strftime("%H:%M")
    head = f"Alarm flood at {site_name}: more alarms than one message each since {since} UTC.\n\n"
    payload = {
        "digest": True,
        "delivery_id": str(delivery_id),
        "site_id": site_id,
        "site": site_name,
        "interval_start": start.isoformat(),
        "alarms": [],
    }
    return {
        "delivery_id": delivery_id,
        "key": f"{site_id}:{start.isoformat()}",
        "subject": f"[flood] Alarm digest for {site_name} since {since} UTC",
        "head_text": head,
        "head_html": f"<h1>{escape(head.strip())}</h1>\n",
        "line_text": line.text,
        "line_html": line.html,
        "item": line.item,
        "payload": orjson.dumps({**payload, "alarms": orjson.loads(line.item)}).decode(),
        "send_at": end,
    }
