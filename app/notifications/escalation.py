"""Escalation: a rule with escalate_after_s is a tier, told once when a matching alarm has
stayed active and unacknowledged that long. Acknowledging, shelving or clearing an alarm
takes it out of 'unacked', so no later tier is told.

The clock is the caller's (`now`), so tests move it instead of waiting. Each (alarm, tier) is
recorded in notification_escalation in the same transaction as its messages: told once, even
with several processes sweeping at the same moment.
"""

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications.fanout import SUPPRESSED, Telling, alarm_facts, tell
from app.notifications.oncall import on_call_now
from app.notifications.rosters import load_rosters

DUE = text(f"""
SELECT a.id, r.id, r.escalate_after_s, r.user_ids, r.channels, r.roster_ids
FROM notification_rule r JOIN alarm a
  ON a.state = 'unacked' AND a.priority <= r.min_priority
 AND a.raised_at + make_interval(secs => r.escalate_after_s) <= :now
 AND (r.site_ids IS NULL OR a.site_id = ANY(r.site_ids))
 AND (r.codes IS NULL OR a.code = ANY(r.codes))
WHERE r.enabled AND r.escalate_after_s > 0 AND NOT {SUPPRESSED}
  AND NOT EXISTS (SELECT 1 FROM notification_escalation e
                  WHERE e.alarm_id = a.id AND e.rule_id = r.id)
ORDER BY a.id, r.escalate_after_s LIMIT :limit
""")  # noqa: S608 - constant SQL

RECORD = text("""
INSERT INTO notification_escalation (alarm_id, rule_id) VALUES (:alarm, :rule)
ON CONFLICT DO NOTHING RETURNING alarm_id
""")


def _after(seconds: int) -> str:
    minutes = seconds / 60
    return (
        f"unacknowledged for {minutes:g} min"
        if seconds >= 60
        else f"unacknowledged for {seconds} s"
    )


async def escalate(
    session: AsyncSession, *, now: datetime, public_url: str, limit: int = 100
) -> int:
    """Tell every tier that is due; returns how many (alarm, tier) pairs were escalated."""
    escalated = 0
    due = (await session.execute(DUE, {"now": now, "limit": limit})).all()
    rosters = await load_rosters(session) if due else []
    for alarm_id, rule_id, after_s, users, channels, roster_ids in due:
        if (await session.execute(RECORD, {"alarm": alarm_id, "rule": rule_id})).first() is None:
            continue  # another process told this tier a moment ago
        telling = Telling(await alarm_facts(session, alarm_id), _after(after_s), None, public_url)
        told = set(users) | on_call_now(rosters, roster_ids, now)
        await tell(session, telling, {user: set(channels) for user in told})
        escalated += 1
    return escalated
