"""The command table's SQL, returning named rows: the service decides, this reads and writes.

Every transition is one conditional UPDATE (the state it leaves is in its WHERE clause) and
says whether it matched, so only the process whose UPDATE matched acts on it.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands.effects import AckedCommand
from app.commands.interlocks import Pending, StringState
from app.core.enums import CommandKind

COMMAND_LOCK = 0x434D44  # advisory-lock namespace for queueing commands ("CMD")

STRINGS = text("""
SELECT r.id AS rack_id, r.index, coalesce(l.contactor_closed, false) AS closed,
       coalesce(l.current_a, 0) AS current_a,
       coalesce(l.charge_limit_a, r.max_charge_a) AS charge_limit_a,
       coalesce(l.discharge_limit_a, r.max_discharge_a) AS discharge_limit_a,
       r.max_charge_a, r.max_discharge_a, l.voltage_v
FROM rack r LEFT JOIN rack_latest l ON l.rack_id = r.id WHERE r.site_id = :site ORDER BY r.index
""")
PENDING = text("""
SELECT id, kind, rack_id, module_id, state FROM command
WHERE site_id = :site AND state IN ('queued', 'sent', 'acked') ORDER BY id
""")
TARGET = text("""
SELECT r.id AS rack_id, m.id AS module_id
FROM rack r LEFT JOIN module m ON m.rack_id = r.id AND m.position = :module
WHERE r.site_id = :site AND r.index = :string
""")
TARGET_RANGES = text("""
SELECT (SELECT count(*) FROM rack WHERE site_id = :site) AS strings,
       (SELECT count(*) FROM module m JOIN rack r ON r.id = m.rack_id
        WHERE r.site_id = :site AND r.index = :string) AS modules
""")
INSERT = text("""
INSERT INTO command (site_id, rack_id, module_id, kind, params, reason, note, origin,
                     requested_by, requested_at, expires_at, deadline_at, revert_at, alarm_id,
                     fault_code, fault_onset_at)
VALUES (:site_id, :rack_id, :module_id, :kind, CAST(:params AS jsonb), :reason, :note, :origin,
        :requested_by, :requested_at, :expires_at, :expires_at, :revert_at, :alarm_id,
        :fault_code, :fault_onset_at)
RETURNING id
""")
CANCEL = text("""
UPDATE command SET state = 'cancelled', finished_at = :now, deadline_at = NULL
WHERE id = :id AND site_id = :site AND state = 'queued' RETURNING id
""")
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
COMMAND = text("SELECT id, kind, rack_id, module_id, params, acked_at FROM command WHERE id = :id")
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
AWAITING = text("SELECT DISTINCT site_id FROM command WHERE state = 'acked'")


@dataclass(frozen=True)
class TargetIds:
    """The rack (and module, if one was asked for and exists) a command names."""

    rack_id: int
    module_id: int | None


@dataclass(frozen=True)
class TargetRanges:
    """How many strings the site has, and how many modules the asked-for string has."""

    strings: int
    modules: int


@dataclass(frozen=True)
class NewCommand:
    """A command row about to be queued."""

    site_id: int
    rack_id: int | None
    module_id: int | None
    kind: str
    params: dict[str, Any]
    reason: str
    note: str
    origin: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    revert_at: datetime | None
    alarm_id: int | None
    fault_code: str | None
    fault_onset_at: datetime | None


@dataclass(frozen=True)
class AckedDue:
    """An acknowledged command and the backend's deadline for seeing its effect."""

    command: AckedCommand
    deadline_at: datetime | None


def _acked(row: Any) -> AckedCommand:
    values = dict(row._mapping)
    values.pop("deadline_at", None)
    return AckedCommand(**{**values, "kind": CommandKind(values["kind"])})


async def lock_site(session: AsyncSession, site_id: int) -> None:
    """Queue one request at a time per site (until the transaction ends)."""
    params = {"key": COMMAND_LOCK, "site": site_id}
    await session.execute(text("SELECT pg_advisory_xact_lock(:key, :site)"), params)


async def target_ids(
    session: AsyncSession, site_id: int, string: int, module: int | None
) -> TargetIds | None:
    """The rack of `string` and the module at `module` in it (None when it has none)."""
    params = {"site": site_id, "string": string, "module": module or 0}
    row = (await session.execute(TARGET, params)).first()
    return None if row is None else TargetIds(**row._mapping)


async def target_ranges(session: AsyncSession, site_id: int, string: int) -> TargetRanges:
    """The strings of the site and the modules of one string, for a refusal's remedy."""
    row = (await session.execute(TARGET_RANGES, {"site": site_id, "string": string})).one()
    return TargetRanges(**row._mapping)


async def string_states(session: AsyncSession, site_id: int) -> list[StringState]:
    """Each string's contactor, current, limits and ratings now."""
    rows = await session.execute(STRINGS, {"site": site_id})
    return [StringState(**row._mapping) for row in rows]


async def pending(session: AsyncSession, site_id: int) -> list[Pending]:
    """The site's commands still in flight."""
    rows = await session.execute(PENDING, {"site": site_id})
    return [Pending(**row._mapping) for row in rows]


async def insert(session: AsyncSession, command: NewCommand) -> int:
    """Queue the command; its id."""
    values = {**command.__dict__, "params": json.dumps(command.params)}
    return int((await session.execute(INSERT, values)).scalar_one())


async def cancel(session: AsyncSession, site_id: int, command_id: int, now: datetime) -> bool:
    """Cancel a queued command; False if it was not queued (or not the site's)."""
    params = {"id": command_id, "site": site_id, "now": now}
    return (await session.execute(CANCEL, params)).first() is not None


async def clear(
    session: AsyncSession, site_id: int, command_id: int, *, by: str, reason: str, now: datetime
) -> str | None:
    """End an unfinished command as cleared; the state it left, or None if it was finished."""
    detail = f"cleared by {by}: {reason}"
    params = {
        "id": command_id,
        "site": site_id,
        "now": now,
        "by": by,
        "reason": reason,
        "detail": detail,
    }
    row = (await session.execute(CLEAR, params)).first()
    return None if row is None else str(row.state)


async def state_of(session: AsyncSession, site_id: int, command_id: int) -> str | None:
    """The command's state, or None when the site has no such command."""
    params = {"id": command_id, "site": site_id}
    state = (await session.execute(STATE, params)).scalar()
    return None if state is None else str(state)


async def acked_command(session: AsyncSession, command_id: int) -> AckedCommand:
    """One command as verification reads it."""
    return _acked((await session.execute(COMMAND, {"id": command_id})).one())


async def acked_commands(session: AsyncSession, site_id: int) -> list[AckedDue]:
    """The site's acknowledged commands with their deadlines."""
    rows = await session.execute(ACKED, {"site": site_id})
    return [AckedDue(_acked(row), row.deadline_at) for row in rows]


async def mark_verified(
    session: AsyncSession, command_id: int, now: datetime, evidence: str
) -> bool:
    """Acked → verified with its evidence; False if another process got there first."""
    params = {"id": command_id, "now": now, "evidence": evidence}
    return (await session.execute(VERIFIED, params)).first() is not None


async def mark_unverified(
    session: AsyncSession, command_id: int, now: datetime, detail: str
) -> bool:
    """Acked and past its deadline → failed; False if not (yet, or another did it)."""
    params = {"id": command_id, "now": now, "detail": detail}
    return (await session.execute(UNVERIFIED, params)).first() is not None


async def sites_awaiting_verification(session: AsyncSession) -> list[int]:
    """Sites with acknowledged commands not yet verified."""
    return list((await session.execute(AWAITING)).scalars())
