"""Verification: does the telemetry after a command's acknowledgement show its effect?"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands.schemas import EvidenceField
from app.core.enums import CommandKind
from app.telemetry.schemas import QUALITY_BYPASSED

CURRENT_ZERO_A = 1.0  # an open string carries no more than this
LIMIT_TOLERANCE_A = 0.5  # BMS limits are reported rounded


@dataclass(frozen=True, slots=True)
class RackNow:
    """A string's latest telemetry and nameplate limits."""

    ts: datetime | None
    closed: bool | None
    current_a: float | None
    charge_limit_a: float | None
    discharge_limit_a: float | None
    max_charge_a: float
    max_discharge_a: float


@dataclass(frozen=True)
class Latest:
    """A site's latest string and module telemetry, for verification."""

    racks: dict[int, RackNow]
    modules: dict[int, tuple[datetime, bool]]  # module id -> (ts, bypassed)


LATEST_RACKS = text("""
SELECT r.id, l.ts, l.contactor_closed, l.current_a, l.charge_limit_a, l.discharge_limit_a,
       r.max_charge_a, r.max_discharge_a
FROM rack r LEFT JOIN rack_latest l ON l.rack_id = r.id WHERE r.site_id = :site
""")
LATEST_MODULES = text(f"""
SELECT l.module_id, l.ts, (l.quality & {QUALITY_BYPASSED}) <> 0
FROM module_latest l JOIN command c ON c.module_id = l.module_id
WHERE c.site_id = :site AND c.state = 'acked'
""")  # noqa: S608 - a constant


async def latest_for(session: AsyncSession, site_id: int) -> Latest:
    """The telemetry verification compares against."""
    racks = {
        row[0]: RackNow(*row[1:]) for row in await session.execute(LATEST_RACKS, {"site": site_id})
    }
    modules = {
        m: (ts, bypassed)
        for m, ts, bypassed in await session.execute(LATEST_MODULES, {"site": site_id})
    }
    return Latest(racks, modules)


def _fresh(ts: datetime | None, acked_at: datetime) -> bool:
    return ts is not None and ts >= acked_at


def _derated(rack: RackNow, pct: float) -> bool:
    charge_target = rack.max_charge_a * pct / 100 + LIMIT_TOLERANCE_A
    discharge_target = rack.max_discharge_a * pct / 100 + LIMIT_TOLERANCE_A
    return (
        rack.charge_limit_a is not None
        and rack.discharge_limit_a is not None
        and rack.charge_limit_a <= charge_target
        and rack.discharge_limit_a <= discharge_target
    )


def _at_rating(rack: RackNow) -> bool:
    """Both limits back at (about) the string's rating: no derate left on it."""
    return (
        rack.charge_limit_a is not None
        and rack.discharge_limit_a is not None
        and rack.charge_limit_a >= rack.max_charge_a - LIMIT_TOLERANCE_A
        and rack.discharge_limit_a >= rack.max_discharge_a - LIMIT_TOLERANCE_A
    )


@dataclass(frozen=True, slots=True)
class AckedCommand:
    """A command the BMS acknowledged, waiting for its effect to show."""

    id: int
    kind: CommandKind
    rack_id: int | None
    module_id: int | None
    params: dict[str, Any]
    acked_at: datetime


def _module_effect(command: AckedCommand, latest: Latest) -> str | None:
    ts, bypassed = latest.modules.get(command.module_id or 0, (None, None))
    wanted = command.kind is CommandKind.ISOLATE_MODULE
    if not _fresh(ts, command.acked_at) or bypassed is not wanted:
        return None
    return "module reports bypassed" if wanted else "module reports in the string"


def _string_effect(command: AckedCommand, racks: list[RackNow]) -> str | None:
    if command.kind is CommandKind.DERATE:
        pct = float(command.params["pct"])
        return f"limits at or below {pct:g} %" if all(_derated(r, pct) for r in racks) else None
    if command.kind is CommandKind.TRIP:
        opened = all(r.closed is False and abs(r.current_a or 0.0) <= CURRENT_ZERO_A for r in racks)
        return "every string open, no current" if opened else None
    rack = racks[0]
    current = abs(rack.current_a or 0.0)
    if command.kind is CommandKind.ISOLATE_STRING and rack.closed is False:
        return f"contactor open, {current:.1f} A" if current <= CURRENT_ZERO_A else None
    # Back in service means in full service: a derate left on the string does not count.
    if command.kind is CommandKind.RETURN_STRING and rack.closed and _at_rating(rack):
        return (
            f"contactor closed, limits at rating ({rack.charge_limit_a:g} A charge, "
            f"{rack.discharge_limit_a:g} A discharge)"
        )
    return None


def effect_seen(command: AckedCommand, latest: Latest) -> str | None:
    """The evidence that the command took effect, in words, or None if not (yet) seen."""
    if command.kind in (CommandKind.RESET_ALARMS, CommandKind.SET_BALANCING):
        return "acknowledged by the BMS; no telemetry effect to check"
    if command.kind in (CommandKind.ISOLATE_MODULE, CommandKind.RETURN_MODULE):
        return _module_effect(command, latest)
    if command.rack_id is not None:
        racks = [latest.racks[command.rack_id]]
    else:
        racks = list(latest.racks.values())
    if not racks or not all(_fresh(r.ts, command.acked_at) for r in racks):
        return None  # only telemetry taken after the acknowledgement counts
    return _string_effect(command, racks)


STRING_EVIDENCE = ("contactor_closed", "current_a", "charge_limit_a", "discharge_limit_a")

SITE_RACKS = text("""
SELECT r.id, r.index, r.max_charge_a, r.max_discharge_a FROM rack r WHERE r.site_id = :site
""")
MODULE_AT = text("""
SELECT m.id FROM module m JOIN rack r ON r.id = m.rack_id
WHERE r.site_id = :site AND r.index = :string AND m.position = :position
""")


async def latest_from_evidence(
    session: AsyncSession,
    site_id: int,
    evidence: dict[str, dict[EvidenceField, float]],
    at: datetime,
) -> Latest:
    """The edge's post-ACK readings as a Latest; strings it did not read count as not fresh."""
    racks: dict[int, RackNow] = {}
    for rack_id, index, max_charge, max_discharge in await session.execute(
        SITE_RACKS, {"site": site_id}
    ):
        seen = evidence.get(f"{index}.0")
        if seen is None or not all(name in seen for name in STRING_EVIDENCE):
            racks[rack_id] = RackNow(None, None, None, None, None, max_charge, max_discharge)
            continue
        racks[rack_id] = RackNow(
            at,
            seen["contactor_closed"] >= 0.5,
            seen["current_a"],
            seen["charge_limit_a"],
            seen["discharge_limit_a"],
            max_charge,
            max_discharge,
        )
    modules: dict[int, tuple[datetime, bool]] = {}
    for key, seen in evidence.items():
        string, position = (int(part) for part in key.split("."))
        if position and "bypassed" in seen:
            params = {"site": site_id, "string": string, "position": position}
            module_id = (await session.execute(MODULE_AT, params)).scalar()
            if module_id is not None:
                modules[module_id] = (at, seen["bypassed"] >= 0.5)
    return Latest(racks, modules)
