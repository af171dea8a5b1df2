"""Commands the edge's local policy issued by itself, recorded after the fact.

The policy acts without the backend (DESIGN §6); its actions arrive here, possibly minutes
later, and become ordinary commands with origin edge_policy, so they appear in the command list,
the audit trail and the isolation record behind mean time to isolate.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.repository import AlarmSource
from app.auth.devices import DeviceIdentity
from app.commands import service
from app.commands.schemas import EdgeResult, PolicyActionReport
from app.core.enums import Actor, DisableReason
from app.isolations.history import claim
from app.isolations.onset import Fault
from app.isolations.repository import CommandedBy
from app.live.hub import notify

RECORD = text("""
INSERT INTO command (site_id, rack_id, module_id, kind, params, reason, note, origin,
                     requested_by, requested_at, state, revert_at, sent_at, acked_at,
                     finished_at, deadline_at, delivered_to, result, edge_ref, fault_code,
                     fault_onset_at)
VALUES (:site, :rack, :module, :kind, CAST(:params AS jsonb), :reason, :note, :origin, :by,
        :sent, :state, :revert, :sent, :acked, :finished, :deadline, :device,
        CAST(:result AS jsonb), :ref, :fault_code, :fault_onset)
ON CONFLICT (site_id, edge_ref) WHERE edge_ref IS NOT NULL DO NOTHING
RETURNING id
""")
ISOLATING = ("isolate_string", "isolate_module", "trip")
EXISTING = text("SELECT id FROM command WHERE site_id = :site AND edge_ref = :ref")


def _note(report: PolicyActionReport) -> str:
    trigger = report.trigger
    where = f"string {trigger.string}" + (f" module {trigger.module}" if trigger.module else "")
    return f"edge policy, {trigger.tier} tier: {trigger.code} at {where}"


CLOCK_NOTE = "times the edge gave after the backend's clock were recorded as received"


def within_clock(report: PolicyActionReport, now: datetime) -> tuple[PolicyActionReport, bool]:
    """The report with no time later than the backend's clock, and whether any was later.

    An edge whose clock runs ahead would otherwise put an action in the future, and an acked
    action whose time never comes would wait for verification for ever.
    """
    trigger = report.trigger.model_copy(update={"onset_at": min(report.trigger.onset_at, now)})
    bounded = report.model_copy(
        update={
            "sent_at": min(report.sent_at, now),
            "reported_at": min(report.reported_at, now),
            "acked_at": None if report.acked_at is None else min(report.acked_at, now),
            "trigger": trigger,
        }
    )
    return bounded, bounded != report


def _values(
    report: PolicyActionReport,
    device: DeviceIdentity,
    target: Any,
    now: datetime,
    *,
    clamped: bool,
) -> dict[str, Any]:
    acked = report.outcome == "acked"
    params = {} if report.pct is None else {"pct": report.pct}
    revert = None
    if report.revert_after_s:
        revert = report.sent_at + timedelta(seconds=report.revert_after_s)
    result = {
        "edge": report.outcome,
        "detail": report.detail,
        "recorded_at": now.isoformat(),
        "trigger": report.trigger.model_dump(mode="json"),
    }
    if clamped:
        result["clock"] = CLOCK_NOTE
    return {
        "site": device.site_id,
        "rack": target.rack_id,
        "module": target.module_id,
        "kind": report.kind,
        "params": json.dumps(params),
        "reason": DisableReason.FAULT.value,
        "note": _note(report),
        "origin": Actor.EDGE_POLICY.value,
        "by": _who(device),
        "sent": report.sent_at,
        "state": "acked" if acked else "failed",
        "revert": revert,
        "acked": report.acked_at,
        "finished": None if acked else report.reported_at,
        # Verified or failed within the timeout from now: the backend's clock, not the edge's.
        "deadline": now + service.VERIFY_TIMEOUT if acked else None,
        "device": device.device_id,
        "result": json.dumps(result),
        "ref": report.ref,
        # The fault the action answers: an isolation it explains starts there (its onset).
        "fault_code": report.trigger.code,
        "fault_onset": report.trigger.onset_at,
    }


def _who(device: DeviceIdentity) -> str:
    return f"edge policy (device #{device.device_id})"


async def record_policy_action(
    session: AsyncSession, device: DeviceIdentity, report: PolicyActionReport
) -> tuple[int, bool]:
    """Record the action as a command; returns its id and whether it is new (False: a retry)."""
    target = await service.resolve_target(
        session, device.site_id, string=report.string, module=report.module
    )
    now = datetime.now(UTC)
    bounded, clamped = within_clock(report, now)
    values = _values(bounded, device, target, now, clamped=clamped)
    command_id = (await session.execute(RECORD, values)).scalar()
    if command_id is None:
        existing = await session.execute(EXISTING, {"site": device.site_id, "ref": report.ref})
        return int(existing.scalar_one()), False
    # The audit log keeps what the edge said, its own times included.
    who = service.Requester(_who(device), Actor.EDGE_POLICY.value)
    await service.audit(
        session,
        who=who,
        action="command.policy",
        site_id=device.site_id,
        command_id=command_id,
        details=report.model_dump(mode="json"),
    )
    await _follow_up(
        session,
        device,
        bounded,
        command_id=command_id,
        rack_id=target.rack_id,
        module_id=target.module_id,
    )
    return command_id, True


async def _follow_up(
    session: AsyncSession,
    device: DeviceIdentity,
    report: PolicyActionReport,
    *,
    command_id: int,
    rack_id: int | None,
    module_id: int | None,
) -> None:
    """Attach the isolation, verify from evidence or alarm a failure, and tell pages."""
    if report.outcome == "acked":
        if report.kind in ISOLATING:
            fault = Fault(report.trigger.code, report.trigger.onset_at)
            command = CommandedBy(
                command_id, DisableReason.FAULT, Actor.EDGE_POLICY.value, report.sent_at, fault
            )
            await claim(
                session,
                command,
                site_id=device.site_id,
                rack_id=rack_id,
                module_id=module_id,
                sent_at=report.sent_at,
            )
        if report.evidence:
            assert report.acked_at is not None
            result = EdgeResult(outcome="acked", at=report.acked_at, evidence=report.evidence)
            await service.verify_from_evidence(session, device.site_id, command_id, result)
    else:
        source = AlarmSource(device.site_id, rack_id, module_id)
        detail = f"edge policy could not act: {report.detail or report.outcome}"
        await service.raise_failed(
            session, source, kind=report.kind, detail=detail, at=report.reported_at
        )
    await notify(session, site_id=device.site_id, kind="commands")
