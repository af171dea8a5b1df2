"""Command lifecycle: queued → sent → acked → verified, or failed / expired / cancelled /
unknown / cleared. Every unfinished state has a deadline on the backend's clock (deadlines.py);
delivery to the edge and its reports are in delivery.py.

Every transition is one conditional UPDATE in repository.py (the state it leaves is in its
WHERE clause), so repeated polls, repeated reports and concurrent operators cannot move a
command twice.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, raise_alarm
from app.audit import service as audit_log
from app.commands import interlocks, repository
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


async def resolve_target(
    session: AsyncSession, site_id: int, *, string: int | None, module: int | None
) -> interlocks.Target:
    """The rack and module ids of a command's target; CommandRefusedError if there is none."""
    if string is None:
        return interlocks.Target()
    found = await repository.target_ids(session, site_id, string, module)
    if found is not None and (module is None or found.module_id is not None):
        return interlocks.Target(rack_id=found.rack_id, module_id=found.module_id)
    ranges = await repository.target_ranges(session, site_id, string)
    if found is None:
        missing = interlocks.Refusal(
            f"this site has no string {string}", f"choose a string from 1 to {ranges.strings}"
        )
    else:
        missing = interlocks.Refusal(
            f"string {string} has no module {module}", f"choose a module from 1 to {ranges.modules}"
        )
    raise CommandRefusedError(missing)


async def checked_target(
    session: AsyncSession, *, site: SiteRef, request: CommandRequest
) -> interlocks.Target:
    """The command's target once every interlock lets it through; CommandRefusedError if not.

    Read-only: the preview runs exactly this, so it cannot promise what queueing would refuse.
    """
    target = await resolve_target(session, site.id, string=request.string, module=request.module)
    strings = await repository.string_states(session, site.id)
    pending = await repository.pending(session, site.id)
    refusal = interlocks.check(
        request.kind, target, strings, pending, nameplate_kw=site.nameplate_power_kw
    )
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
    found = await answered_alarm(session, site_id=site_id, target=target, alarm_id=request.alarm_id)
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


def _answering(alarm: AnsweredAlarm | None) -> dict[str, Any]:
    """The command's columns for the fault it answers (all empty when it names none)."""
    if alarm is None:
        return {"alarm_id": None, "fault_code": None, "fault_onset_at": None}
    return {"alarm_id": alarm.alarm_id, "fault_code": alarm.code, "fault_onset_at": alarm.raised_at}


def _new_command(
    site: SiteRef,
    request: CommandRequest,
    who: Requester,
    *,
    target: interlocks.Target,
    alarm: AnsweredAlarm | None,
    now: datetime,
) -> repository.NewCommand:
    """The row a checked request becomes."""
    revert = now + timedelta(seconds=request.revert_after_s) if request.revert_after_s else None
    return repository.NewCommand(
        site_id=site.id,
        rack_id=target.rack_id,
        module_id=target.module_id,
        kind=request.kind.value,
        params=_params(site, request),
        reason=request.reason.value,
        note=request.note,
        origin=who.origin,
        requested_by=who.name,
        requested_at=now,
        expires_at=now + timedelta(seconds=request.expires_in_s),
        revert_at=revert,
        **_answering(alarm),
    )


async def queue_command(
    session: AsyncSession, site: SiteRef, request: CommandRequest, who: Requester, now: datetime
) -> int:
    """Check the interlocks and queue the command; CommandRefusedError says why not."""
    # One request at a time per site, so two operators cannot both pass the same interlock.
    await repository.lock_site(session, site.id)
    target = await checked_target(session, site=site, request=request)
    alarm = await answered(session, site_id=site.id, target=target, request=request)
    command_id = await repository.insert(
        session, _new_command(site, request, who, target=target, alarm=alarm, now=now)
    )
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
    audit_log.record(
        session,
        actor=who.name,
        action=action,
        site_id=site_id,
        target=f"command {command_id}",
        details=details,
        remote_addr=who.remote_addr,
    )


async def cancel_command(
    session: AsyncSession, site_id: int, command_id: int, who: Requester, now: datetime
) -> None:
    """Cancel a command the edge has not picked up yet."""
    if not await repository.cancel(session, site_id, command_id, now):
        raise CommandRefusedError(
            interlocks.Refusal(
                "only a queued command can be cancelled (it may already be with the edge)",
                "clear it with a reason instead",
            )
        )
    await audit(
        session,
        who=who,
        action="command.cancel",
        site_id=site_id,
        command_id=command_id,
        details={},
    )
    await notify(session, site_id=site_id, kind="commands")


async def clear_command(
    session: AsyncSession,
    site_id: int,
    command_id: int,
    who: Requester,
    *,
    reason: str,
    now: datetime,
) -> None:
    """End an unfinished command in any state, with the operator's reason (audited).

    Whatever the edge did with it stays unknown; a report that comes later is recorded as late.
    """
    left = await repository.clear(session, site_id, command_id, by=who.name, reason=reason, now=now)
    if left is None:
        current = await repository.state_of(session, site_id, command_id)
        if current is None:
            raise CommandNotFoundError(f"this site has no command {command_id}")
        raise CommandRefusedError(f"command #{command_id} is already {current}: nothing to clear")
    details = {"reason": reason, "from_state": left}
    await audit(
        session,
        who=who,
        action="command.clear",
        site_id=site_id,
        command_id=command_id,
        details=details,
    )
    await notify(session, site_id=site_id, kind="commands")


async def verify_from_evidence(
    session: AsyncSession, site_id: int, command_id: int, result: EdgeResult
) -> None:
    """Verify at once from the BMS readings the edge took after the ACK, when they show it."""
    command = await repository.acked_command(session, command_id)
    latest = await latest_from_evidence(session, site_id, result.evidence, result.at)
    evidence = effect_seen(command, latest)
    if evidence is not None:
        text_ = f"{evidence} (BMS frames after the ACK, read by the edge)"
        await repository.mark_verified(session, command_id, result.at, text_)


async def raise_failed(
    session: AsyncSession,
    source: AlarmSource,
    *,
    kind: str,
    detail: str,
    at: datetime,
    code: str = FAILED,
    verb: str = "failed",
) -> None:
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


async def verify(session: AsyncSession, site_id: int, now: datetime) -> int:
    """Acked commands whose effect shows in the telemetry become verified; overdue ones fail."""
    acked = await repository.acked_commands(session, site_id)
    if not acked:
        return 0
    latest: Latest = await latest_for(session, site_id)
    changed = 0
    for due in acked:
        evidence = effect_seen(due.command, latest)
        # Another process may get there first: only the one whose UPDATE matched acts on it.
        if evidence is not None:
            changed += await repository.mark_verified(session, due.command.id, now, evidence)
        elif due.deadline_at is None or due.deadline_at <= now:
            changed += await _fail_unverified(session, site_id, due.command, now)
    if changed:
        await notify(session, site_id=site_id, kind="commands")
    return changed


async def _fail_unverified(
    session: AsyncSession, site_id: int, command: AckedCommand, now: datetime
) -> int:
    """Fail an acked command past its deadline and raise the alarm; 0 if another did it."""
    detail = f"acknowledged, but no telemetry showed it in {VERIFY_TIMEOUT.seconds} s"
    if not await repository.mark_unverified(session, command.id, now, detail):
        return 0
    source = AlarmSource(site_id, command.rack_id, command.module_id)
    await raise_failed(session, source, kind=command.kind.value, detail=detail, at=now)
    return 1
