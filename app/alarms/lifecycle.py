"""What operators do to alarms (ISA-18.2): acknowledge, shelve for a while, unshelve.

Each action checks the alarm's state in the same statement that changes it, so two operators
acting at once cannot both succeed, and is written to the audit log.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.live.hub import notify

SHELVE_CHOICES = {15: "15 min", 60: "1 h", 240: "4 h", 480: "8 h", 1440: "24 h"}

# After a shelf ends the alarm shows what happened meanwhile: still active, or cleared.
STATE_AFTER_SHELF = """CASE WHEN cleared_at IS NOT NULL AND acked_at IS NOT NULL THEN 'normal'
     WHEN cleared_at IS NOT NULL THEN 'rtn_unacked'
     WHEN acked_at IS NOT NULL THEN 'acked' ELSE 'unacked' END"""

ACK = text("""
UPDATE alarm SET acked_at = :at, acked_by = :actor, ack_note = :note,
       state = CASE state WHEN 'unacked' THEN 'acked' ELSE 'normal' END
WHERE id = :id AND state IN ('unacked', 'rtn_unacked')
RETURNING site_id
""")

SHELVE = text("""
UPDATE alarm SET state = 'shelved', shelved_until = :until, shelved_by = :actor,
       shelve_reason = :reason
WHERE id = :id AND state IN ('unacked', 'acked', 'rtn_unacked')
RETURNING site_id
""")

UNSHELVE = text(f"""
UPDATE alarm SET state = {STATE_AFTER_SHELF}, shelved_until = NULL
WHERE id = :id AND state = 'shelved'
RETURNING site_id
""")  # noqa: S608 - constant SQL

UNSHELVE_EXPIRED = text(f"""
UPDATE alarm SET state = {STATE_AFTER_SHELF}, shelved_until = NULL
WHERE state = 'shelved' AND shelved_until <= :now
RETURNING site_id
""")  # noqa: S608 - constant SQL


class AlarmStateError(Exception):
    """The alarm is not in a state that allows the action (already done, or cleared)."""


@dataclass(frozen=True)
class Actor:
    """Who acts and from where (the audit trail's who and where)."""

    name: str
    remote_addr: str | None


async def _audit(
    session: AsyncSession, actor: Actor, action: str, site_id: int, alarm_id: int, **details: str
) -> None:
    audit.record(
        session,
        actor=actor.name,
        action=action,
        site_id=site_id,
        target=f"alarm {alarm_id}",
        details=details,
        remote_addr=actor.remote_addr,
    )
    await notify(session, site_id=site_id, kind="alarms")


async def acknowledge(
    session: AsyncSession, alarm_id: int, *, actor: Actor, note: str, at: datetime
) -> None:
    """Acknowledge an unacknowledged alarm (a returned-to-normal one becomes normal)."""
    params = {"id": alarm_id, "at": at, "actor": actor.name, "note": note or None}
    site_id = (await session.execute(ACK, params)).scalar()
    if site_id is None:
        raise AlarmStateError("this alarm has nothing to acknowledge (already acknowledged?)")
    await _audit(session, actor, "alarm.acknowledge", site_id, alarm_id, note=note)


async def shelve(
    session: AsyncSession,
    alarm_id: int,
    *,
    actor: Actor,
    minutes: int,
    reason: str,
    at: datetime,
) -> None:
    """Shelve a standing alarm for a while, with a reason; it returns by itself."""
    until = at + timedelta(minutes=minutes)
    params = {"id": alarm_id, "until": until, "actor": actor.name, "reason": reason}
    site_id = (await session.execute(SHELVE, params)).scalar()
    if site_id is None:
        raise AlarmStateError("only a standing alarm can be shelved")
    await _audit(
        session, actor, "alarm.shelve", site_id, alarm_id, reason=reason, until=until.isoformat()
    )


async def unshelve(session: AsyncSession, alarm_id: int, *, actor: Actor) -> None:
    """End a shelf early."""
    site_id = (await session.execute(UNSHELVE, {"id": alarm_id})).scalar()
    if site_id is None:
        raise AlarmStateError("this alarm is not shelved")
    await _audit(session, actor, "alarm.unshelve", site_id, alarm_id)


async def unshelve_expired(session: AsyncSession, *, now: datetime) -> int:
    """Return every alarm whose shelf has run out; returns how many."""
    sites = list((await session.execute(UNSHELVE_EXPIRED, {"now": now})).scalars())
    for site_id in set(sites):
        await notify(session, site_id=site_id, kind="alarms")
    return len(sites)
