"""SQL for isolations opened and closed by contactor feedback."""

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.isolations.models import Isolation

# The fault onset is the earliest alarm still open on the string (or its modules) when the
# contactor opened, looking back at most an hour; without one, the onset is the opening itself.
ONSET = text("""
SELECT a.raised_at, a.code FROM alarm a
LEFT JOIN module m ON m.id = a.module_id
WHERE a.site_id = :site_id AND (a.rack_id = :rack_id OR m.rack_id = :rack_id)
  AND a.state IN ('unacked', 'acked')
  AND a.raised_at BETWEEN :ts - interval '1 hour' AND :ts
ORDER BY a.raised_at, a.priority
LIMIT 1
""")


async def fault_onset(
    session: AsyncSession, *, site_id: int, rack_id: int, ts: datetime
) -> tuple[datetime, str | None]:
    """When the fault behind a contactor opening began, and its code."""
    params = {"site_id": site_id, "rack_id": rack_id, "ts": ts}
    row = (await session.execute(ONSET, params)).first()
    return (ts, None) if row is None else (row[0], row[1])


async def open_isolation(session: AsyncSession, *, rack_id: int) -> Isolation | None:
    """The string's isolation that has not ended yet, if any."""
    stmt = select(Isolation).where(
        Isolation.rack_id == rack_id, Isolation.module_id.is_(None), Isolation.returned_at.is_(None)
    )
    return (await session.execute(stmt.order_by(Isolation.onset_at.desc()).limit(1))).scalar()
