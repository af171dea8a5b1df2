"""Command lifecycle: queued → sent → acked → verified, or failed / expired / cancelled /
unknown / cleared. Every unfinished state has a deadline on the backend's clock (deadlines.py);
delivery to the edge and its reports are in delivery.py.

Every transition is one conditional UPDATE (the state it leaves is in its WHERE clause), so
repeated polls, repeated reports and concurrent operators cannot move a command twice.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, raise_alarm
from app.audit.models import AuditEntry
from app.commands import interlocks
from app.commands.answers import AnsweredAlarm, answered_alarm
from app.commands.effects import (
    AckedCommand,
    Latest,
    effect_seen,
    latest_for,
    latest_from_evidence,
)
from app.commands.schemas import CommandRequest, EdgeResult
from app.core.enums import CommandKind
from app.live.hub import notify

VERIFY_TIMEOUT = timedelta(seconds=15)  # acked, but telemetry never showed the effect: failed
FAILED = "command_failed"
COMMAND_LOCK = 0x434D44  # advisory-lock namespace for queueing commands ("CMD")


class CommandRefusedError(Exception):
    """An interlock, a conflict or a state refused the request; the refusal says why."""

    def __init__(self, refusal: interlocks.Refusal | str) -> None:
        if isinstance(refusal, str):
            refusal = interlocks.Refusal(refusal)
        self.refusal = refusal
        super().__init__(str(refusal))


class CommandNotFoundError(LookupError):
    """The site has no command with that id."""


@dataclass(frozen=True)
class SiteRef:
    """The site a command is for."""

    id: int
    code: str
    nameplate_power_kw: float
    strings: int


@dataclass(frozen=True)
class Requester:
    """Who asks, in what role (operator or edge policy), from where."""

    name: str
    origin: str
    remote_addr: str | None = None


STRINGS = text("""
SELECT r.id, r.index, coalesce(l.contactor_closed, false), coalesce(l.current_a, 0),
       coalesce(l.charge_limit_a, r.max_charge_a), coalesce(l.discharge_limit_a, r.max_discharge_a),
       r.max_charge_a, r.max_discharge_a, l.voltage_v
FROM rack r LEFT JOIN rack_latest l ON l.rack_id = r.id WHERE r.site_id = :site ORDER BY r.index
""")
PENDING = text("""
SELECT id, kind, rack_id, module_id, state FROM command
WHERE site_id = :site AND state IN ('queued', 'sent', 'acked') ORDER BY id
""")
TARGET = text("""
SELECT r.id, m.id FROM rack r LEFT JOIN module m ON m.rack_id = r.id AND m.position = :module
WHERE r.site_id = :site AND r.index = :string
""")
TARGETS = text("""
SELECT (SELECT count(*) FROM rack WHERE site_id = :site),
       (SELECT count(*) FROM module m JOIN rack r ON r.id = m.rack_id
        WHERE r.site_id = :site AND r.index = :string)
""")
INSERT = text("""
INSERT INTO command (site_id, rack_id, module_id, kind, params, reason, note, origin,
                     requested_by, requested_at, expires_at, deadline_at, revert_at, alarm_id,
                     fault_code, fault_onset_at)
VALUES (:site, :rack, :module, :kind, CAST(:params AS jsonb), :reason, :note, :origin, :by, :now,
        :expires, :expires, :revert, :alarm_id, :fault_code, :fault_onset_at)
RETURNING id
""")


async def resolve_target(
    session: AsyncSession, site_id: int, *, string: int | None, module: int | None
) -> interlocks.Target:
    """The rack and module ids of a command's target; CommandRefusedError if there is none."""
    if string is None:
        return interlocks.Target()
    params = {"site": site_id, "string": string, "module": module or 0}
    row = (await session.execute(TARGET, params)).first()
    if row is not None and (module is None or row[1] is not None):
        return interlocks.Target(rack_id=row[0], module_id=row[1])
    strings, modules = (await session.execute(TARGETS, params)).one()
    if row is None:
        missing = interlocks.Refusal(f"this site has no string {string}",
                                     f"choose a string from 1 to {strings}")  # fmt: skip
    else:
        missing = interlocks.Refusal(f"string {string} has no module {module}",
                                     f"choose a module from 1 to {modules}")  # fmt: skip
    raise CommandRefusedError(missing)


async def checked_target(
    session: AsyncSession, *, site: SiteRef, request: CommandRequest
) -> interlocks.Target:
    """The command's target once every interlock lets it through; CommandRefusedError if not.

    Read-only: the preview runs exactly this, so it cannot promise what queueing would refuse.
    """
    target = await resolve_target(session, site.id, string=request.string, module=request.module)
    rows = await session.execute(STRINGS, {"site": site.id})
    strings = [interlocks.StringState(*row) for row in rows]
    rows = await session.execute(PENDING, {"site": site.id})
    pending = [interlocks.Pending(*row) for row in rows]
    refusal = interlocks.check(request.kind, target, strings, pending,
                               nameplate_kw=site.nameplate_power_kw)  # fmt: skip
    if refusal is not None:
        raise CommandRefusedError(refusal)
    await answered(session, site_id=site.id, target=target, request=request)
    return target


async def answered(
    session: AsyncSession, *, site_id: int, target: interlocks.Target, request: CommandRequest
) -> AnsweredAlarm | None:
    """The alarm the request names, if any; CommandRefusedError if it cannot answer it."""
    if request.alarm_id is None:
        return None
    found = await answered_alarm(session, site_id=site_id, target=target,
                                 alarm_id=request.alarm_id)  # fmt: skip
    if isinstance(found, interlocks.Refusal):
        raise CommandRefusedError(found)
    return found


def _params(site: SiteRef, request: CommandRequest) -> dict[str, Any]:
    pct = request.derate_pct(nameplate_kw=site.nameplate_power_kw, strings=site.strings)
    if pct is not None:
        return {"pct": pct} if request.kw is None else {"pct": pct, "kw": request.kw}
    if request.kind is CommandKind.SET_BALANCING:
        return {"enabled": request.enabled}
    return {}


def _answering(alarm: AnsweredAlarm | None) -> dict[str, object]:
    """The command's columns for the fault it answers (all empty when it names none)."""
    if alarm is None:
        return {"alarm_id": None, "fault_code": None, "fault_onset_at": None}
    return {"alarm_id": alarm.alarm_id, "fault_code": alarm.code,
            "fault_onset_at": alarm.raised_at}  # fmt: skip


async def queue_command(
    session: AsyncSession, site: SiteRef, request: CommandRequest, who: Requester, now: datetime
) -> int:
    """Check the interlocks and queue the command; CommandRefusedError says why not."""
    # One request at a time per site, so two operators cannot both pass the same interlock.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key, :site)"), {"key": COMMAND_LOCK, "site": site.id}
    )
    target = await checked_target(session, site=site, request=request)
    alarm = await answered(session, site_id=site.id, target=target, request=request)
    revert = now + timedelta(seconds=request.revert_after_s) if request.revert_after_s else None
    values = {
        "site": site.id, "rack": target.rack_id, "module": target.module_id,
        "kind": request.kind.value, "params": json.dumps(_params(site, request)),
        "reason": request.reason.value, "note": request.note, "origin": who.origin,
        "by": who.name, "now": now, "expires": now + timedelta(seconds=request.expires_in_s),
        "revert": revert, **_answering(alarm),
    }  # fmt: skip
    command_id = int((await session.execute(INSERT, values)).scalar_one())
    await audit(
        session,
        who=who,
        action="command.queue",
        site_id=site.id,
        command_id=command_id,
        details=request.model_dump(mode="json"),
    )
    await notify(session, site_id=site.id, kind="commands")
    return command_id


async def audit(
    session: AsyncSession,
    *,
    who: Requester,
    action: str,
    site_id: int,
    command_id: int,
    details: dict[str, Any],
) -> None:
    """Write who did what to a command, when and from where, to the audit log."""
    session.add(
        AuditEntry(
            actor=who.name,
            action=action,
            site_id=site_id,
            target=f"command {command_id}",
            details=details,
            remote_addr=who.remote_addr,
        )
    )


CANCEL = text("""
UPDATE command SET state = 'cancelled', finished_at = :now, deadline_at = NULL
WHERE id = :id AND site_id = :site AND state = 'queued' RETURNING id
""")


async def cancel_command(
    session: AsyncSession, site_id: int, command_id: int, who: Requester, now: datetime
) -> None:
    """Cancel a command the edge has not picked up yet."""
    params = {"id": command_id, "site": site_id, "now": now}
    if (await session.execute(CANCEL, params)).first() is None:
        raise CommandRefusedError(interlocks.Refusal(
            "only a queued command can be cancelled (it may already be with the edge)",
            "clear it with a reason instead"))  # fmt: skip
    await audit(
        session,
        who=who,
        action="command.cancel",
        site_id=site_id,
        command_id=command_id,
        details={},
    )
    await notify(session, site_id=site_id, kind="commands")


CLEAR = text("""
WITH was AS (SELECT id, state FROM command WHERE id = :id AND site_id = :site FOR UPDATE)
UPDATE command c SET state = 'cleared', finished_at = :now, deadline_at = NULL,
       result = c.result || jsonb_build_object(
           'detail', CAST(:detail AS text),
           'cleared', jsonb_build_object('by', CAST(:by AS text), 'reason', CAST(:reason AS text),
                                         'from_state', was.state, 'at', CAST(:now AS timestamptz)))
FROM was WHERE c.id = was.id AND was.state IN ('queued', 'sent', 'acked')
RETURNING was.state
""")
STATE = text("SELECT state FROM command WHERE id = :id AND site_id = :site")


async def clear_command(
    session: AsyncSession, site_id: int, command_id: int, who: Requester, *, reason: str,
    now: datetime,
) -> None:  # fmt: skip
    """End an unfinished command in any state, with the operator's reason (audited).

    Whatever the edge did with it stays unknown; a report that comes later is recorded as late.
    """
    detail = f"cleared by {who.name}: {reason}"
    params = {"id": command_id, "site": site_id, "now": now, "by": who.name, "reason": reason,
              "detail": detail}  # fmt: skip
    row = (await session.execute(CLEAR, params)).first()
    if row is None:
        current = (await session.execute(STATE, params)).scalar()
        if current is None:
            raise CommandNotFoundError(f"this site has no command {command_id}")
        raise CommandRefusedError(f"command #{command_id} is already {current}: nothing to clear")
    details = {"reason": reason, "from_state": row[0]}
    await audit(session, who=who, action="command.clear", site_id=site_id,
                command_id=command_id, details=details)  # fmt: skip
    await notify(session, site_id=site_id, kind="commands")


COMMAND = text("""
SELECT id, kind, rack_id, module_id, params, acked_at FROM command WHERE id = :id
""")


async def verify_from_evidence(
    session: AsyncSession, site_id: int, command_id: int, result: EdgeResult
) -> None:
    """Verify at once from the BMS readings the edge took after the ACK, when they show it."""
    row = (await session.execute(COMMAND, {"id": command_id})).one()
    command = AckedCommand(row[0], CommandKind(row[1]), *row[2:])
    latest = await latest_from_evidence(session, site_id, result.evidence, result.at)
    evidence = effect_seen(command, latest)
    if evidence is not None:
        text_ = f"{evidence} (BMS frames after the ACK, read by the edge)"
        await session.execute(VERIFIED, {"id": command_id, "now": result.at, "evidence": text_})


async def raise_failed(
    session: AsyncSession, source: AlarmSource, *, kind: str, detail: str, at: datetime,
    code: str = FAILED, verb: str = "failed",
) -> None:  # fmt: skip
    """Raise the command-failed alarm (or another command alarm) at the command's target."""
    entry = describe(code)
    await raise_alarm(
        session,
        source,
        code=code,
        priority=entry.priority,
        message=f"{kind.replace('_', ' ')} {verb}: {detail}",
        ts=at,
    )
    await notify(session, site_id=source.site_id, kind="alarms")


# The verification deadline runs from when the backend learnt of the acknowledgement, on its
# own clock (deadline_at), never from a time the edge supplied.
ACKED = text("""
SELECT id, kind, rack_id, module_id, params, acked_at, deadline_at
FROM command WHERE site_id = :site AND state = 'acked'
""")
VERIFIED = text("""
UPDATE command SET state = 'verified', verified_at = :now, finished_at = :now, deadline_at = NULL,
       result = result || jsonb_build_object('verified_by', CAST(:evidence AS text))
WHERE id = :id AND state = 'acked' RETURNING id
""")
UNVERIFIED = text("""
UPDATE command SET state = 'failed', finished_at = :now, deadline_at = NULL,
       result = result || jsonb_build_object('detail', CAST(:detail AS text))
WHERE id = :id AND state = 'acked' AND deadline_at <= :now RETURNING id
""")


async def verify(session: AsyncSession, site_id: int, now: datetime) -> int:
    """Acked commands whose effect shows in the telemetry become verified; overdue ones fail."""
    acked = list(await session.execute(ACKED, {"site": site_id}))
    if not acked:
        return 0
    latest: Latest = await latest_for(session, site_id)
    changed = 0
    for row in acked:
        command = AckedCommand(row[0], CommandKind(row[1]), *row[2:6])
        evidence = effect_seen(command, latest)
        # Another process may get there first: only the one whose UPDATE matched acts on it.
        if evidence is not None:
            params = {"id": command.id, "now": now, "evidence": evidence}
            changed += len((await session.execute(VERIFIED, params)).all())
        elif row[6] is None or row[6] <= now:
            changed += await _fail_unverified(session, site_id, command, now)
    if changed:
        await notify(session, site_id=site_id, kind="commands")
    return changed


async def _fail_unverified(
    session: AsyncSession, site_id: int, command: AckedCommand, now: datetime
) -> int:
    """Fail an acked command past its deadline and raise the alarm; 0 if another did it."""
    detail = f"acknowledged, but no telemetry showed it in {VERIFY_TIMEOUT.seconds} s"
    params = {"id": command.id, "now": now, "detail": detail}
    if (await session.execute(UNVERIFIED, params)).first() is None:
        return 0
    source = AlarmSource(site_id, command.rack_id, command.module_id)
    await raise_failed(session, source, kind=command.kind.value, detail=detail, at=now)
    return 1


async def sites_awaiting_verification(session: AsyncSession) -> list[int]:
    """Sites with acknowledged commands not yet verified."""
    result = await session.execute(
        text("SELECT DISTINCT site_id FROM command WHERE state = 'acked'")
    )
    return list(result.scalars())
