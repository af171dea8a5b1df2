"""Fan-out: each alarm notice becomes one outbox message per matching recipient and channel.

Notices are claimed with SKIP LOCKED and marked done in the same transaction as the messages
they make, so a notice is fanned out exactly once whichever process gets it.
"""

from dataclasses import dataclass
from uuid import uuid4

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications.messages import render
from app.notifications.rules import AlarmFacts, Channel, Rule, matches

CLAIM_NOTICES = text("""
SELECT n.id, n.event, a.id, a.site_id, s.code, s.name, a.code, a.priority, a.state, a.message,
       a.value, a.threshold, r.name, m.position, a.cell_index, a.raised_at
FROM alarm_notice n JOIN alarm a ON a.id = n.alarm_id JOIN site s ON s.id = a.site_id
LEFT JOIN rack r ON r.id = a.rack_id LEFT JOIN module m ON m.id = a.module_id
WHERE n.fanned_out_at IS NULL ORDER BY n.id LIMIT :limit
FOR UPDATE OF n SKIP LOCKED
""")

RULES = text("""
SELECT id, name, site_ids, min_priority, codes, events, user_ids, channels
FROM notification_rule WHERE enabled
""")

# Recipients who may see the site, are not disabled, and have an address for the channel.
RECIPIENTS = text("""
SELECT u.id, c.email, c.webhook_url FROM app_user u JOIN notification_contact c ON c.user_id = u.id
WHERE u.id = ANY(:users) AND u.disabled_at IS NULL
  AND (u.site_ids IS NULL OR :site = ANY(u.site_ids))
""")

INSERT_MESSAGE = text("""
INSERT INTO notification_outbox (delivery_id, notice_id, user_id, channel, target, subject,
                                 body_text, body_html, payload)
VALUES (:delivery_id, :notice_id, :user_id, :channel, :target, :subject, :body_text,
        :body_html, CAST(:payload AS jsonb))
ON CONFLICT (notice_id, user_id, channel) DO NOTHING
""")

MARK_DONE = text("UPDATE alarm_notice SET fanned_out_at = now() WHERE id = ANY(:ids)")


@dataclass(frozen=True, slots=True)
class Notice:
    """A claimed notice with the alarm it is about."""

    id: int
    event: str
    alarm: AlarmFacts


@dataclass(frozen=True, slots=True)
class Recipient:
    """One user's addresses."""

    user_id: int
    email: str | None
    webhook_url: str | None

    def address(self, channel: str) -> str | None:
        """Where this channel reaches the user, if anywhere."""
        return self.email if channel == Channel.EMAIL else self.webhook_url


async def claim_notices(session: AsyncSession, limit: int) -> list[Notice]:
    """Lock up to `limit` notices not yet fanned out (skipping those another process holds)."""
    rows = await session.execute(CLAIM_NOTICES, {"limit": limit})
    return [Notice(row[0], row[1], AlarmFacts(*row[2:])) for row in rows]


async def load_rules(session: AsyncSession) -> list[Rule]:
    """The enabled rules."""
    rows = await session.execute(RULES)
    return [
        Rule(row[0], row[1], None if row[2] is None else tuple(row[2]), row[3],
             None if row[4] is None else tuple(row[4]), tuple(row[5]), tuple(row[6]),
             tuple(row[7]))
        for row in rows
    ]  # fmt: skip


async def _recipients(session: AsyncSession, users: set[int], site_id: int) -> list[Recipient]:
    rows = await session.execute(RECIPIENTS, {"users": sorted(users), "site": site_id})
    return [Recipient(*row) for row in rows]


async def fan_out_notice(
    session: AsyncSession, notice: Notice, rules: list[Rule], *, public_url: str
) -> int:
    """Write the notice's messages to the outbox; returns how many."""
    wanted: dict[int, set[str]] = {}
    for rule in rules:
        if matches(rule, notice.alarm, notice.event):
            for user_id in rule.user_ids:
                wanted.setdefault(user_id, set()).update(rule.channels)
    written = 0
    for recipient in await _recipients(session, set(wanted), notice.alarm.site_id):
        for channel in sorted(wanted[recipient.user_id]):
            target = recipient.address(channel)
            if target:
                written += await _write(session, notice, user_id=recipient.user_id,
                                        channel=channel, target=target,
                                        public_url=public_url)  # fmt: skip
    return written


async def _write(
    session: AsyncSession, notice: Notice, *, user_id: int, channel: str, target: str,
    public_url: str,
) -> int:  # fmt: skip
    delivery_id = uuid4()
    message = render(notice.alarm, event=notice.event, delivery_id=delivery_id,
                     public_url=public_url)  # fmt: skip
    result = await session.execute(INSERT_MESSAGE, {
        "delivery_id": delivery_id, "notice_id": notice.id, "user_id": user_id,
        "channel": channel, "target": target, "subject": message.subject,
        "body_text": message.body_text, "body_html": message.body_html,
        "payload": orjson.dumps(message.payload).decode(),
    })  # fmt: skip
    return int(getattr(result, "rowcount", 0))


async def fan_out(session: AsyncSession, *, public_url: str, limit: int = 100) -> int:
    """Fan out up to `limit` pending notices; returns how many notices were handled."""
    notices = await claim_notices(session, limit)
    if not notices:
        return 0
    rules = await load_rules(session)
    for notice in notices:
        await fan_out_notice(session, notice, rules, public_url=public_url)
    await session.execute(MARK_DONE, {"ids": [n.id for n in notices]})
    return len(notices)
