"""Command lists for the API and the screens."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands.impact import StringCapacity
from app.commands.schemas import CommandView
from app.fleet.overview import STRING_SHARE

LIST = text("""
SELECT c.id, s.code, c.kind, r.index, m.position, c.params, c.reason, c.note, c.origin,
       c.requested_by, c.state, c.requested_at, c.expires_at, c.revert_at, c.sent_at, c.acked_at,
       c.verified_at, c.finished_at, c.result, c.alarm_id, c.fault_code, c.fault_onset_at,
       c.deadline_at
FROM command c JOIN site s ON s.id = c.site_id
LEFT JOIN rack r ON r.id = c.rack_id LEFT JOIN module m ON m.id = c.module_id
WHERE c.site_id = :site AND (CAST(:id AS bigint) IS NULL OR c.id = :id)
  AND (CAST(:before AS bigint) IS NULL OR c.id < :before)
ORDER BY c.id DESC LIMIT :limit
""")
FIELDS = tuple(CommandView.model_fields)


async def list_commands(
    session: AsyncSession,
    site_id: int,
    *,
    command_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[CommandView]:
    """A site's commands, newest first (or one of them); before_id pages on."""
    params = {"site": site_id, "id": command_id, "limit": limit, "before": before_id}
    return [
        CommandView(**dict(zip(FIELDS, row, strict=True)))
        for row in await session.execute(LIST, params)
    ]


CAPACITIES = text(f"""
SELECT r.index, coalesce(l.contactor_closed, false), {STRING_SHARE}
FROM rack r LEFT JOIN rack_latest l ON l.rack_id = r.id WHERE r.site_id = :site ORDER BY r.index
""")  # noqa: S608 - the f-string only inlines a constant


async def string_capacities(session: AsyncSession, *, site_id: int) -> list[StringCapacity]:
    """Each string's state for the impact preview, measured as the site page's capacity online."""
    rows = await session.execute(CAPACITIES, {"site": site_id})
    return [StringCapacity(index, closed, float(share)) for index, closed, share in rows]
