"""Deadlines of unfinished commands, on the backend's clock: nothing stays in flight for ever.

- queued → expired when the edge has not picked it up by its expiry;
- sent → unknown (with an alarm) when the edge has not reported by the expiry plus
  REPORT_GRACE: it may or may not have carried it out;
- acked → failed (with an alarm) when the telemetry has not shown the effect within the
  verification timeout of the backend receiving the ACK (service.verify).

Safe with several app processes: a sweep claims due rows with FOR UPDATE SKIP LOCKED and
moves them with one UPDATE, and only the process that moved a command raises its alarm.
"""

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.repository import AlarmSource
from app.commands.repository import sites_awaiting_verification
from app.commands.service import raise_failed, verify
from app.live.hub import notify

# What an edge may take, after the expiry, to finish a command it began in time and report it:
# the BMS's ACK timeouts over a few steps, and a couple of retries of the report.
REPORT_GRACE = timedelta(seconds=30)
UNKNOWN = "command_outcome_unknown"
SWEEP_ROWS = 500  # per statement, so that one sweep holds few locks for little time
NO_REPORT = (
    f"the edge took it but did not report by its deadline (expiry + {REPORT_GRACE.seconds} s): "
    "whether it was carried out is unknown"
)

DUE = """
WITH due AS (
  SELECT id FROM command
  WHERE state = '{state}' AND deadline_at <= :now
    AND (CAST(:site AS int) IS NULL OR site_id = :site)
  ORDER BY deadline_at LIMIT :limit FOR UPDATE SKIP LOCKED)
"""
EXPIRE = text(
    DUE.format(state="queued")
    + """
UPDATE command c SET state = 'expired', finished_at = :now, deadline_at = NULL,
       result = c.result || jsonb_build_object('detail',
                                               'not picked up by the edge before it expired')
FROM due WHERE c.id = due.id RETURNING c.site_id
"""
)
UNREPORTED = text(
    DUE.format(state="sent")
    + """
UPDATE command c SET state = 'unknown', finished_at = :now, deadline_at = NULL,
       result = c.result || jsonb_build_object('detail', CAST(:detail AS text))
FROM due WHERE c.id = due.id RETURNING c.site_id, c.rack_id, c.module_id, c.kind
"""
)


async def expire_overdue(session: AsyncSession, now: datetime, site_id: int | None = None) -> int:
    """Queued commands past their pickup deadline become expired (and are never sent)."""
    params = {"now": now, "site": site_id, "limit": SWEEP_ROWS}
    sites = list((await session.execute(EXPIRE, params)).scalars())
    for site in set(sites):
        await notify(session, site_id=site, kind="commands")
    return len(sites)


async def give_up_unreported(
    session: AsyncSession, now: datetime, site_id: int | None = None
) -> int:
    """Sent commands the edge never reported by their deadline become unknown, with an alarm."""
    params = {"now": now, "site": site_id, "limit": SWEEP_ROWS, "detail": NO_REPORT}
    rows = list(await session.execute(UNREPORTED, params))
    for site, rack_id, module_id, kind in rows:
        source = AlarmSource(site, rack_id, module_id)
        await raise_failed(
            session,
            source,
            kind=kind,
            detail=NO_REPORT,
            at=now,
            code=UNKNOWN,
            verb="outcome unknown",
        )
    for site in {row[0] for row in rows}:
        await notify(session, site_id=site, kind="commands")
    return len(rows)


async def sweep(session: AsyncSession, now: datetime) -> int:
    """Move every command whose state has run out; the number moved."""
    changed = await expire_overdue(session, now)
    changed += await give_up_unreported(session, now)
    for site_id in await sites_awaiting_verification(session):
        changed += await verify(session, site_id, now)
    return changed
