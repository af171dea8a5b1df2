"""SQL for the contactor history (contactor_event) and the isolations derived from it."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.enums import Actor, DisableReason
from app.isolations import onset
from app.isolations.intervals import Feedback, Interval, StoredIsolation, intervals, reconcile
from app.isolations.repository import CommandedBy, active_faults, commanded_isolation

ONSET_LOOKBACK = timedelta(hours=1)  # as far back as active_faults() looks


@dataclass(frozen=True, slots=True, order=True)
class Target:
    """A string (module_id None) or a module whose feedback is followed."""

    site_id: int
    rack_id: int
    module_id: int | None


TARGET = "rack_id = :rack_id AND coalesce(module_id, 0) = coalesce(CAST(:module_id AS int), 0)"

RECORD = text("""
INSERT INTO contactor_event (site_id, rack_id, module_id, ts, opened, disable_reason)
SELECT * FROM unnest(CAST(:site_id AS int[]), CAST(:rack_id AS int[]), CAST(:module_id AS int[]),
                     CAST(:ts AS timestamptz[]), CAST(:opened AS bool[]),
                     CAST(:disable_reason AS smallint[]))
ON CONFLICT DO NOTHING
RETURNING site_id, rack_id, module_id, ts
""")
LOCK = text("SELECT pg_advisory_xact_lock(:site_id, hashtext(:key))")
# Every isolation that could hold one of the new times: those not ended before the earliest.
ROWS = text(f"""
SELECT id, isolated_at, returned_at FROM isolation
WHERE {TARGET} AND isolated_at IS NOT NULL AND (returned_at IS NULL OR returned_at >= :since)
ORDER BY isolated_at FOR UPDATE
""")  # noqa: S608 - constant SQL
FEEDBACK = text(f"""
SELECT ts, opened, disable_reason FROM contactor_event WHERE {TARGET} AND ts >= :since
""")  # noqa: S608 - constant SQL
MOVE = text("""
UPDATE isolation SET isolated_at = :isolated_at, returned_at = :returned_at,
       onset_at = least(onset_at, :isolated_at)
WHERE id = :id
""")
ADD = text("""
INSERT INTO isolation (site_id, rack_id, module_id, reason, isolated_by, onset_at, isolated_at,
                       returned_at)
VALUES (:site_id, :rack_id, :module_id, :reason, :by, :isolated_at, :isolated_at, :returned_at)
RETURNING id
""")
DROP = text("DELETE FROM isolation WHERE id = ANY(:ids)")
COMMANDED = text("""
UPDATE isolation SET command_id = :command_id, reason = :reason, isolated_by = :origin,
       onset_at = :onset_at, fault_code = :fault_code
WHERE id = :id
""")
# Isolations no command has claimed yet that a command for this target, sent at this time,
# explains (the same window as commanded_isolation(), seen from the other side); a trip is
# for every string of the site.
UNCLAIMED = text("""
SELECT id, isolated_at FROM isolation
WHERE site_id = :site_id AND command_id IS NULL AND isolated_at IS NOT NULL
  AND CASE WHEN CAST(:module_id AS int) IS NOT NULL THEN module_id = :module_id
           ELSE module_id IS NULL AND (CAST(:rack_id AS int) IS NULL OR rack_id = :rack_id) END
  AND isolated_at BETWEEN CAST(:sent_at AS timestamptz) - interval '5 seconds'
                      AND CAST(:sent_at AS timestamptz) + interval '5 minutes'
FOR UPDATE
""")
# The BMS's own isolations (no command behind them) on these strings around these times, with
# the reason the BMS gave as the contactors opened.
BMS_ISOLATIONS = text("""
SELECT i.id, i.rack_id, i.module_id, i.isolated_at, c.disable_reason FROM isolation i
LEFT JOIN contactor_event c ON c.rack_id = i.rack_id
  AND coalesce(c.module_id, 0) = coalesce(i.module_id, 0) AND c.ts = i.isolated_at AND c.opened
WHERE i.site_id = :site_id AND i.rack_id = ANY(:rack_ids) AND i.command_id IS NULL
  AND i.isolated_at BETWEEN :since AND :until
""")
ATTRIBUTE = text("""
UPDATE isolation SET onset_at = :onset_at, fault_code = :code, reason = :reason WHERE id = :id
""")


async def record(
    session: AsyncSession, feedback: Sequence[tuple[Target, Feedback]]
) -> dict[Target, list[datetime]]:
    """Store feedback once each; the times of the items not stored before, by target."""
    if not feedback:
        return {}
    columns: dict[str, list[object]] = defaultdict(list)
    for target, item in feedback:
        for name in ("site_id", "rack_id", "module_id"):
            columns[name].append(getattr(target, name))
        for name in ("ts", "opened", "disable_reason"):
            columns[name].append(getattr(item, name))
    new: dict[Target, list[datetime]] = defaultdict(list)
    for site_id, rack_id, module_id, ts in await session.execute(RECORD, columns):
        new[Target(site_id, rack_id, module_id)].append(ts)
    return dict(new)


async def rederive(session: AsyncSession, target: Target, new: Sequence[datetime]) -> None:
    """Recompute the target's isolations that feedback at these times affects."""
    key = f"isolation {target.rack_id} {target.module_id or 0}"
    await session.execute(LOCK, {"site_id": target.site_id, "key": key})
    params = {"rack_id": target.rack_id, "module_id": target.module_id}
    since = min(new)
    rows = [StoredIsolation(*r) for r in await session.execute(ROWS, {**params, "since": since})]
    since = min([since, *(r.isolated_at for r in rows)])
    feedback = [Feedback(*f) for f in await session.execute(FEEDBACK, {**params, "since": since})]
    plan = reconcile(rows, intervals(feedback))
    if plan.duplicates:
        await session.execute(DROP, {"ids": plan.duplicates})
    for row_id, interval in plan.changed:
        await session.execute(
            MOVE,
            {
                "id": row_id,
                "isolated_at": interval.isolated_at,
                "returned_at": interval.returned_at,
            },
        )
    for interval in plan.new:
        await _add(session, target, interval)


async def _add(session: AsyncSession, target: Target, interval: Interval) -> None:
    """A new isolation: the BMS's, unless a command sent shortly before explains it."""
    values = {
        "site_id": target.site_id,
        "rack_id": target.rack_id,
        "module_id": target.module_id,
        "reason": DisableReason.OTHER.value,
        "by": Actor.BMS.value,
        "isolated_at": interval.isolated_at,
        "returned_at": interval.returned_at,
    }
    row_id = (await session.execute(ADD, values)).scalar_one()
    command = await commanded_isolation(
        session,
        site_id=target.site_id,
        rack_id=target.rack_id,
        module_id=target.module_id,
        ts=interval.isolated_at,
    )
    if command is None:
        await attribute(
            session, target.site_id, [target.rack_id], interval.isolated_at, interval.isolated_at
        )
    else:
        await explained(session, row_id, interval.isolated_at, command)


async def explained(
    session: AsyncSession, row_id: int, isolated_at: datetime, command: CommandedBy
) -> None:
    """Make an isolation the command's (the operator's or the edge policy's), with its reason,
    and its onset and fault from the fault the command answers."""
    found = onset.commanded(
        reason=command.reason,
        cause=command.cause,
        requested_at=command.requested_at,
        isolated_at=isolated_at,
    )
    await session.execute(
        COMMANDED,
        {
            "id": row_id,
            "command_id": command.command_id,
            "reason": found.reason.value,
            "origin": command.origin,
            "onset_at": found.onset_at,
            "fault_code": found.fault_code,
        },
    )


async def claim(
    session: AsyncSession,
    command: CommandedBy,
    *,
    site_id: int,
    rack_id: int | None,
    module_id: int | None,
    sent_at: datetime,
) -> None:
    """Make the command's the isolations its feedback opened before it was recorded (an edge
    policy action reported once the link was back, or after the telemetry)."""
    params = {"site_id": site_id, "rack_id": rack_id, "module_id": module_id, "sent_at": sent_at}
    for row_id, isolated_at in list(await session.execute(UNCLAIMED, params)):
        await explained(session, row_id, isolated_at, command)


async def attribute(
    session: AsyncSession, site_id: int, rack_ids: Sequence[int], since: datetime, until: datetime
) -> None:
    """Give the BMS's isolations on these strings, made between these times, their reason,
    onset and fault from the history as it stands now (a late alarm may change them)."""
    params = {"site_id": site_id, "rack_ids": list(rack_ids), "since": since, "until": until}
    for row_id, rack_id, module_id, isolated_at, dis_rsn in await session.execute(
        BMS_ISOLATIONS, params
    ):
        active = await active_faults(
            session, site_id=site_id, rack_id=rack_id, module_id=module_id, ts=isolated_at
        )
        found = onset.by_bms(disable_reason=dis_rsn, active=active, isolated_at=isolated_at)
        await session.execute(
            ATTRIBUTE,
            {
                "id": row_id,
                "onset_at": found.onset_at,
                "code": found.fault_code,
                "reason": found.reason.value,
            },
        )


def attribution_window(times: Sequence[datetime]) -> tuple[datetime, datetime]:
    """The isolation times that alarm raises or clears at `times` can change the onset of."""
    return min(times), max(times) + ONSET_LOOKBACK
