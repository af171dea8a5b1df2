"""The edge's side of the command channel: one device takes a command, and reports on it.

A queued command goes to exactly one device: its poll claims the row (FOR UPDATE SKIP LOCKED)
and records the device in delivered_to; only that device gets it again until it reports, and
only it may report it. Expiry travels as a remaining duration (expires_in_s) measured on the
backend's clock, so that an edge whose clock is off cannot carry out a stale command.

Reports are bounded: an edge time outside [sent, received] is clamped into it and the edge's
own value kept beside it; a report after the command's deadline (or after an operator cleared
it) changes nothing and is recorded as late.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.repository import AlarmSource
from app.auth.devices import DeviceIdentity
from app.commands import service
from app.commands.deadlines import REPORT_GRACE, expire_overdue, give_up_unreported
from app.commands.schemas import EdgeCommand, EdgeResult
from app.live.hub import notify

LATE_REPORTS_KEPT = 10  # a device that keeps reporting late cannot grow a command's row

DELIVER = text("""
WITH claimable AS (
  SELECT id FROM command WHERE site_id = :site AND state = 'queued' AND expires_at > :now
  ORDER BY id FOR UPDATE SKIP LOCKED),
picked AS (
  UPDATE command c SET state = 'sent', sent_at = :now, delivered_to = :device,
         deadline_at = c.expires_at + :grace
  FROM claimable WHERE c.id = claimable.id RETURNING c.id)
SELECT c.id, c.kind, r.index, m.position, c.params, c.reason, c.expires_at, c.revert_at,
       c.id IN (SELECT id FROM picked) AS picked_now
FROM command c LEFT JOIN rack r ON r.id = c.rack_id LEFT JOIN module m ON m.id = c.module_id
WHERE c.site_id = :site
  AND (c.id IN (SELECT id FROM picked) OR (c.state = 'sent' AND c.delivered_to = :device))
ORDER BY c.id
""")


def _seconds_left(until: datetime | None, now: datetime) -> float:
    """Seconds from now until `until` on the backend's clock (0 when past or unset)."""
    return 0.0 if until is None else max(0.0, round((until - now).total_seconds(), 3))


async def deliver(
    session: AsyncSession, device: DeviceIdentity, now: datetime
) -> list[EdgeCommand]:
    """The device's commands: newly claimed by it, and any it took but has not reported yet.

    A command the edge received but did not report (it restarted) comes again, with the time it
    has left; the edge's own journal of executed ids makes sure it is carried out once.
    """
    await expire_overdue(session, now, device.site_id)  # what the poll leaves is never sent
    params = {"site": device.site_id, "device": device.device_id, "now": now, "grace": REPORT_GRACE}
    commands, picked = [], False
    for (
        id_,
        kind,
        string,
        module,
        values,
        reason,
        expires,
        revert,
        picked_now,
    ) in await session.execute(DELIVER, params):
        after = None if revert is None else max(60, round((revert - now).total_seconds()))
        commands.append(
            EdgeCommand(
                id=id_,
                kind=kind,
                string=string,
                module=module,
                params=values,
                reason=reason,
                expires_in_s=_seconds_left(expires, now),
                revert_after_s=after,
            )
        )
        picked = picked or picked_now
    if picked:  # a re-delivery changes no state, so pages need not refresh for it
        await notify(session, site_id=device.site_id, kind="commands")
    return commands


class Reported(StrEnum):
    """What became of an edge's report."""

    RECORDED = "recorded"
    REPEATED = "repeated"  # already recorded: nothing changes
    LATE = "late"  # after the deadline, or after an operator cleared it: recorded as late
    ELSEWHERE = "elsewhere"  # never delivered to this device
    MISSING = "missing"  # no such command at this site


CLOCK_NOTE = (
    "the edge's time for this report lay outside the time the command was sent and the time "
    "the report arrived; the lifecycle keeps the nearest of those (edge_at is the edge's value)"
)
REPORT = text("""
UPDATE command SET state = CASE WHEN :outcome = 'acked' THEN 'acked' ELSE 'failed' END,
       acked_at = CASE WHEN :outcome = 'acked' THEN least(greatest(:at, sent_at), :now)
                       ELSE acked_at END,
       finished_at = CASE WHEN :outcome = 'acked' THEN NULL ELSE :now END,
       deadline_at = CASE WHEN :outcome = 'acked' THEN :verify_by END,
       delivered_to = coalesce(delivered_to, :device),
       result = result || jsonb_build_object('edge', :outcome, 'detail', CAST(:detail AS text))
                || CASE WHEN :at BETWEEN sent_at AND :now THEN '{}'::jsonb
                        ELSE jsonb_build_object('edge_at', :at, 'clock', CAST(:clock AS text)) END
WHERE id = :id AND site_id = :site AND state = 'sent' AND deadline_at > :now
  AND (delivered_to = :device OR delivered_to IS NULL)
RETURNING kind, rack_id, module_id, state, acked_at
""")


async def report(
    session: AsyncSession,
    device: DeviceIdentity,
    command_id: int,
    result: EdgeResult,
    now: datetime,
) -> Reported:
    """Record what the edge did with a command it was given, within the command's deadline."""
    # A report after the deadline must find the command already given up, not still sent.
    await give_up_unreported(session, now, device.site_id)
    params = {
        "id": command_id,
        "site": device.site_id,
        "device": device.device_id,
        "outcome": result.outcome,
        "detail": result.detail,
        "at": result.at,
        "now": now,
        "verify_by": now + service.VERIFY_TIMEOUT,
        "clock": CLOCK_NOTE,
    }
    row = (await session.execute(REPORT, params)).first()
    if row is None:
        return await _not_recorded(session, device, command_id, result, now)
    kind, rack_id, module_id, state, acked_at = row
    if state == "acked" and result.evidence:
        # Judged at the ACK time as kept (clamped), not at a time the edge's clock gave.
        at_ack = result.model_copy(update={"at": acked_at})
        await service.verify_from_evidence(session, device.site_id, command_id, at_ack)
    if state == "failed":
        source = AlarmSource(device.site_id, rack_id, module_id)
        await service.raise_failed(session, source, kind=kind, detail=result.detail, at=now)
    await notify(session, site_id=device.site_id, kind="commands")
    return Reported.RECORDED


FOUND = text("""
SELECT state, sent_at, delivered_to, result ? 'edge' FROM command WHERE id = :id AND site_id = :site
""")
LATE = text("""
UPDATE command SET result = result || jsonb_build_object('late_reports',
    coalesce(result -> 'late_reports', '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
        'outcome', CAST(:outcome AS text), 'detail', CAST(:detail AS text),
        'edge_at', CAST(:at AS timestamptz), 'received_at', CAST(:now AS timestamptz))))
WHERE id = :id AND jsonb_array_length(coalesce(result -> 'late_reports', '[]'::jsonb)) < :kept
""")


async def _not_recorded(
    session: AsyncSession,
    device: DeviceIdentity,
    command_id: int,
    result: EdgeResult,
    now: datetime,
) -> Reported:
    """Why a report changed nothing; a late one is kept with the command and audited."""
    found = (await session.execute(FOUND, {"id": command_id, "site": device.site_id})).first()
    if found is None:
        return Reported.MISSING
    _, sent_at, delivered_to, reported = found
    if sent_at is None or delivered_to not in (None, device.device_id):
        return Reported.ELSEWHERE
    if reported:
        return Reported.REPEATED
    params = {
        "id": command_id,
        "outcome": result.outcome,
        "detail": result.detail,
        "at": result.at,
        "now": now,
        "kept": LATE_REPORTS_KEPT,
    }
    await session.execute(LATE, params)
    who = service.Requester(f"edge device #{device.device_id}", "edge")
    await service.audit(
        session,
        who=who,
        action="command.late_report",
        site_id=device.site_id,
        command_id=command_id,
        details=result.model_dump(mode="json", exclude={"evidence"}),
    )
    await notify(session, site_id=device.site_id, kind="commands")
    return Reported.LATE
