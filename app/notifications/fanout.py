"""Fan-out: each alarm notice becomes one outbox message per matching recipient and channel.

Notices are claimed with SKIP LOCKED and marked done in the same transaction as the messages
they make, so a notice is fanned out exactly once whichever process gets it. Alarms suppressed
by design (under a string an operator took out, or out for maintenance) notify nobody.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import uuid4

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications.flood import (
    UPSERT_DIGEST,
    ChatterPolicy,
    FloodPolicy,
    chattering,
    digest_line,
    digest_params,
    flooding,
)
from app.notifications.messages import render
from app.notifications.oncall import Roster, on_call_now
from app.notifications.rosters import load_rosters
from app.notifications.rules import AlarmFacts, Channel, Rule, matches

FACTS = """a.id, a.site_id, s.code, s.name, a.code, a.priority, a.state, a.message, a.value,
a.threshold, r.name, m.position, a.cell_index, a.raised_at"""
FACTS_FROM = """alarm a JOIN site s ON s.id = a.site_id
LEFT JOIN rack r ON r.id = a.rack_id LEFT JOIN module m ON m.id = a.module_id"""
# Deliberately isolated before the alarm: the string is known to be out, nobody needs telling.
SUPPRESSED = """EXISTS (SELECT 1 FROM isolation i WHERE i.rack_id = a.rack_id
AND i.returned_at IS NULL AND (i.reason = 'maintenance' OR i.isolated_by = 'operator')
AND i.onset_at <= a.raised_at)"""

# A notice about a change long before it was recorded is history arriving late (a backfill,
# a spool drained after days): it is shown on the pages, but nobody is woken for it.
STALE = """n.at - CASE n.event WHEN 'cleared' THEN a.cleared_at ELSE a.last_raised_at END
> make_interval(secs => :max_age_s)"""

CLAIM_NOTICES = text(f"""
SELECT n.id, n.event, {SUPPRESSED} OR coalesce({STALE}, false), {FACTS}
FROM alarm_notice n JOIN {FACTS_FROM} ON a.id = n.alarm_id
WHERE n.fanned_out_at IS NULL ORDER BY n.id LIMIT :limit
FOR UPDATE OF n SKIP LOCKED
""")  # noqa: S608 - constant SQL

ALARM_FACTS = text(f"SELECT {FACTS} FROM {FACTS_FROM} WHERE a.id = :id")  # noqa: S608

RULES = text("""
SELECT id, name, site_ids, min_priority, codes, events, user_ids, channels, escalate_after_s,
       roster_ids
FROM notification_rule WHERE enabled
""")

# Recipients who may see the site, are not disabled, and have an address for the channel.
RECIPIENTS = text("""
SELECT u.id, c.email, c.webhook_url, c.apprise_url
FROM app_user u JOIN notification_contact c ON c.user_id = u.id
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
    suppressed: bool  # by design (an isolated string), or history arriving late
    alarm: AlarmFacts


@dataclass(frozen=True, slots=True)
class Recipient:
    """One user's addresses."""

    user_id: int
    email: str | None
    webhook_url: str | None
    apprise_url: str | None

    def address(self, channel: str) -> str | None:
        """Where this channel reaches the user, if anywhere."""
        return {
            Channel.EMAIL: self.email,
            Channel.WEBHOOK: self.webhook_url,
            Channel.APPRISE: self.apprise_url,
        }.get(Channel(channel))


@dataclass(frozen=True, slots=True)
class Telling:
    """What to tell: one event of one alarm (the notice it came from, if any)."""

    alarm: AlarmFacts
    event: str
    notice_id: int | None
    public_url: str
    digest: tuple[datetime, datetime] | None = None  # flooding or chattering: its interval
    digest_kind: str = "flood"  # or "chatter"


async def claim_notices(session: AsyncSession, limit: int, max_age_s: float) -> list[Notice]:
    """Lock up to `limit` notices not yet fanned out (skipping those another process holds)."""
    rows = await session.execute(CLAIM_NOTICES, {"limit": limit, "max_age_s": max_age_s})
    return [Notice(row[0], row[1], row[2], AlarmFacts(*row[3:])) for row in rows]


async def alarm_facts(session: AsyncSession, alarm_id: int) -> AlarmFacts:
    """One alarm as a message tells it."""
    return AlarmFacts(*(await session.execute(ALARM_FACTS, {"id": alarm_id})).one())


async def load_rules(session: AsyncSession) -> list[Rule]:
    """The enabled rules."""
    rows = await session.execute(RULES)
    return [
        Rule(
            row[0],
            row[1],
            None if row[2] is None else tuple(row[2]),
            row[3],
            None if row[4] is None else tuple(row[4]),
            tuple(row[5]),
            tuple(row[6]),
            tuple(row[7]),
            row[8],
            tuple(row[9]),
        )
        for row in rows
    ]


async def tell(session: AsyncSession, telling: Telling, wanted: dict[int, set[str]]) -> int:
    """Write one message per wanted user and channel that has an address; returns how many."""
    rows = await session.execute(
        RECIPIENTS, {"users": sorted(wanted), "site": telling.alarm.site_id}
    )
    written = 0
    for recipient in (Recipient(*row) for row in rows):
        for channel in sorted(wanted[recipient.user_id]):
            target = recipient.address(channel)
            if not target:
                continue
            if telling.digest is None or not await _add_to_digest(
                session, telling, user_id=recipient.user_id, channel=channel, target=target
            ):
                await _write(
                    session, telling, user_id=recipient.user_id, channel=channel, target=target
                )
            written += 1
    return written


async def _add_to_digest(
    session: AsyncSession, telling: Telling, *, user_id: int, channel: str, target: str
) -> bool:
    """Append the alarm to the recipient's digest; False if that has gone out already."""
    assert telling.digest is not None
    line = digest_line(telling.alarm, event=telling.event, public_url=telling.public_url)
    params = digest_params(
        line,
        site_id=telling.alarm.site_id,
        site_name=telling.alarm.site_name,
        start=telling.digest[0],
        end=telling.digest[1],
        kind=telling.digest_kind,
    )
    recipient = {"user_id": user_id, "channel": channel, "target": target}
    found = await session.execute(UPSERT_DIGEST, {**params, **recipient})
    return found.first() is not None


async def _write(
    session: AsyncSession, telling: Telling, *, user_id: int, channel: str, target: str
) -> int:
    delivery_id = uuid4()
    message = render(
        telling.alarm, event=telling.event, delivery_id=delivery_id, public_url=telling.public_url
    )
    result = await session.execute(
        INSERT_MESSAGE,
        {
            "delivery_id": delivery_id,
            "notice_id": telling.notice_id,
            "user_id": user_id,
            "channel": channel,
            "target": target,
            "subject": message.subject,
            "body_text": message.body_text,
            "body_html": message.body_html,
            "payload": orjson.dumps(message.payload).decode(),
        },
    )
    return int(getattr(result, "rowcount", 0))


def wanted_by(
    rules: list[Rule], notice: Notice, rosters: list[Roster], now: datetime
) -> dict[int, set[str]]:
    """Each user the matching rules name or find on call at `now`, with their channels."""
    wanted: dict[int, set[str]] = {}
    for rule in rules:
        if matches(rule, notice.alarm, notice.event):
            for user_id in set(rule.user_ids) | on_call_now(rosters, rule.roster_ids, now):
                wanted.setdefault(user_id, set()).update(rule.channels)
    return wanted


@dataclass(frozen=True, slots=True)
class FanOut:
    """How the fan-out runs: links, what is too old to tell, floods, and its clock."""

    public_url: str
    max_age_s: float
    flood: FloodPolicy
    now: datetime
    chatter: ChatterPolicy


async def _telling(session: AsyncSession, notice: Notice, how: FanOut) -> Telling:
    """The notice as told: alone, or as a line of its site's flood or chatter digest."""
    told = Telling(notice.alarm, notice.event, notice.id, how.public_url)
    if notice.event == "raised" and await flooding(
        session, notice.alarm.site_id, policy=how.flood, now=how.now
    ):
        return replace(told, digest=how.flood.interval(how.now))
    if await chattering(session, notice.id, policy=how.chatter):
        return replace(told, digest=how.chatter.interval(how.now), digest_kind="chatter")
    return told


async def fan_out(session: AsyncSession, how: FanOut, limit: int = 100) -> int:
    """Fan out up to `limit` pending notices; returns how many notices were handled."""
    notices = await claim_notices(session, limit, how.max_age_s)
    if not notices:
        return 0
    rules, rosters = await load_rules(session), await load_rosters(session)
    for notice in notices:
        wanted = {} if notice.suppressed else wanted_by(rules, notice, rosters, how.now)
        if wanted:
            await tell(session, await _telling(session, notice, how), wanted)
    await session.execute(MARK_DONE, {"ids": [n.id for n in notices]})
    return len(notices)
