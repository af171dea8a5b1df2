"""Flood and chatter control (ISA-18.2: more than 10 alarms in 10 minutes is a flood; the same
alarm raised 3 times within a minute is chattering): while a site floods, or an alarm chatters,
each recipient gets one digest per site and interval, sent when the interval ends, instead of a
message per alarm change.

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

# Raises of the same alarm source (site, string, module, code) in the window ending at this
# notice: counted up to the notice, so the answer does not depend on when the worker runs.
RAISES_OF_THIS_ALARM = text("""
SELECT count(*) FROM alarm_notice n JOIN alarm a ON a.id = n.alarm_id
JOIN alarm_notice this ON this.id = :notice JOIN alarm src ON src.id = this.alarm_id
WHERE a.site_id = src.site_id AND coalesce(a.rack_id, 0) = coalesce(src.rack_id, 0)
  AND coalesce(a.module_id, 0) = coalesce(src.module_id, 0) AND a.code = src.code
  AND n.event = 'raised' AND n.id <= this.id
  AND n.at > this.at - make_interval(secs => :window_s)
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
        return digest_interval(now, self.window_s)


@dataclass(frozen=True, slots=True)
class ChatterPolicy:
    """How many raises of one alarm within how long make it chatter (the digest interval)."""

    raises: int
    window_s: float

    def interval(self, now: datetime) -> tuple[datetime, datetime]:
        """The digest interval `now` falls in."""
        return digest_interval(now, self.window_s)


def digest_interval(now: datetime, window_s: float) -> tuple[datetime, datetime]:
    """The interval of `window_s` seconds (counted from the epoch) that `now` falls in."""
    start = datetime.fromtimestamp(math.floor(now.timestamp() / window_s) * window_s, UTC)
    return start, start + timedelta(seconds=window_s)


async def chattering(session: AsyncSession, notice_id: int, *, policy: ChatterPolicy) -> bool:
    """Whether the notice's alarm had been raised the policy's times within its window."""
    count = await session.execute(
        RAISES_OF_THIS_ALARM, {"notice": notice_id, "window_s": policy.window_s}
    )
    return int(count.scalar() or 0) >= policy.raises


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


HEADS = {
    "flood": "Alarm flood at {site}: more alarms than one message each since {since} UTC.",
    "chatter": "Chattering alarms at {site}: alarms raised and cleared over and over since "
    "{since} UTC, told once here instead of at every change.",
}


def digest_params(
    line: DigestLine, *, site_id: int, site_name: str, start: datetime, end: datetime, kind: str
) -> dict[str, object]:
    """The digest row's fields, for its first line (later lines only append); `kind` is
    'flood' or 'chatter'."""
    delivery_id = uuid4()
    since = start.strftime("%H:%M")
    head = HEADS[kind].format(site=site_name, since=since) + "\n\n"
    payload = {
        "digest": True,
        "kind": kind,
        "delivery_id": str(delivery_id),
        "site_id": site_id,
        "site": site_name,
        "interval_start": start.isoformat(),
        "alarms": [],
    }
    return {
        "delivery_id": delivery_id,
        "key": ("" if kind == "flood" else f"{kind}:") + f"{site_id}:{start.isoformat()}",
        "subject": f"[{kind}] Alarm digest for {site_name} since {since} UTC",
        "head_text": head,
        "head_html": f"<h1>{escape(head.strip())}</h1>\n",
        "line_text": line.text,
        "line_html": line.html,
        "item": line.item,
        "payload": orjson.dumps({**payload, "alarms": orjson.loads(line.item)}).decode(),
        "send_at": end,
    }
