"""SQL for isolations opened and closed by contactor feedback."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.enums import DisableReason
from app.isolations.onset import Fault

# The faults active on a string (or its modules; for a module bypass, on that module) at a
# time, each with the start of its current episode: its first raise since its last clear, at
# most an hour back. Read from the alarm history by its own times, so the answer does not
# depend on which batch arrived first.
ACTIVE = text("""
SELECT e.code, min(e.ts) FROM alarm_event e
WHERE e.site_id = :site_id AND coalesce(e.rack_id, 0) = :rack_id
  AND (CAST(:module_id AS int) IS NULL OR coalesce(e.module_id, 0) = :module_id)
  AND e.raised AND e.ts BETWEEN CAST(:ts AS timestamptz) - interval '1 hour' AND :ts
  AND NOT EXISTS (
    SELECT 1 FROM alarm_event c
    WHERE c.site_id = e.site_id AND coalesce(c.rack_id, 0) = coalesce(e.rack_id, 0)
      AND coalesce(c.module_id, 0) = coalesce(e.module_id, 0) AND c.code = e.code
      AND NOT c.raised AND c.ts > e.ts AND c.ts <= :ts)
GROUP BY coalesce(e.module_id, 0), e.code
ORDER BY 2, 1
""")


async def active_faults(
    session: AsyncSession, *, site_id: int, rack_id: int, module_id: int | None, ts: datetime
) -> list[Fault]:
    """The faults active on a string (or a module) at `ts`, with their onsets."""
    params = {"site_id": site_id, "rack_id": rack_id, "module_id": module_id, "ts": ts}
    return [Fault(code, onset) for code, onset in await session.execute(ACTIVE, params)]


RECENT = text("""
SELECT i.id, r.index, m.position, i.module_id, i.reason, i.isolated_by, i.fault_code,
       i.onset_at, i.isolated_at, i.returned_at, i.note
FROM isolation i JOIN rack r ON r.id = i.rack_id LEFT JOIN module m ON m.id = i.module_id
WHERE i.site_id = :site_id AND (CAST(:rack_id AS int) IS NULL OR i.rack_id = :rack_id)
  AND (CAST(:before_onset AS timestamptz) IS NULL
       OR (i.onset_at, i.id) < (CAST(:before_onset AS timestamptz), :before_id))
ORDER BY i.onset_at DESC, i.id DESC LIMIT :limit
""")


@dataclass(frozen=True, slots=True)
class IsolationView:
    """One isolation as the screens show it."""

    id: int
    string: int
    module: int | None
    module_id: int | None
    reason: str
    isolated_by: str
    fault_code: str | None
    onset_at: datetime
    isolated_at: datetime | None
    returned_at: datetime | None
    note: str | None

    @property
    def time_to_isolate_s(self) -> float | None:
        """Fault onset to contactor-open feedback, in seconds; None when no known fault caused
        it (maintenance, or an operator's isolation naming none), as in the KPI."""
        if self.isolated_at is None or self.reason != "fault" or self.fault_code is None:
            return None
        return (self.isolated_at - self.onset_at).total_seconds()


async def recent_isolations(
    session: AsyncSession,
    *,
    site_id: int,
    rack_id: int | None = None,
    limit: int = 10,
    before: tuple[datetime, int] | None = None,
) -> list[IsolationView]:
    """A site's (or string's) latest isolations, newest first; `before` (onset, id) pages on."""
    before_onset, before_id = before or (None, None)
    params = {
        "site_id": site_id,
        "rack_id": rack_id,
        "limit": limit,
        "before_onset": before_onset,
        "before_id": before_id,
    }
    return [IsolationView(*row) for row in await session.execute(RECENT, params)]


# The command behind a contactor opening (an isolation of the string, or a trip of its site) or
# a module bypass (an isolate_module of that module), if one was sent shortly before (the slack
# covers the edge's clock against the backend's).
COMMANDED = text("""
SELECT id, reason, origin, requested_at, fault_code, fault_onset_at FROM command
WHERE site_id = :site_id
  AND CASE WHEN CAST(:module_id AS bigint) IS NULL
      THEN module_id IS NULL AND ((kind = 'isolate_string' AND rack_id = :rack_id)
                                  OR (kind = 'trip' AND rack_id IS NULL))
      ELSE kind = 'isolate_module' AND module_id = :module_id END
  AND state IN ('sent', 'acked', 'verified')
  AND sent_at BETWEEN CAST(:ts AS timestamptz) - interval '5 minutes'
                  AND CAST(:ts AS timestamptz) + interval '5 seconds'
ORDER BY sent_at DESC LIMIT 1
""")


@dataclass(frozen=True, slots=True)
class CommandedBy:
    """The command that opened a string's contactor, and the fault it answers (if any)."""

    command_id: int
    reason: DisableReason
    origin: str
    requested_at: datetime
    cause: Fault | None


async def commanded_isolation(
    session: AsyncSession, *, site_id: int, rack_id: int, module_id: int | None, ts: datetime
) -> CommandedBy | None:
    """The command that explains a string's contactor opening (or a module's bypass) at `ts`."""
    params = {"site_id": site_id, "rack_id": rack_id, "module_id": module_id, "ts": ts}
    row = (await session.execute(COMMANDED, params)).first()
    if row is None:
        return None
    command_id, reason, origin, requested_at, code, onset = row
    cause = None if code is None or onset is None else Fault(code, onset)
    return CommandedBy(command_id, DisableReason(reason), origin, requested_at, cause)
