"""The edge's clock against the server's: measured on every batch, alarmed when it drifts."""

import math
from datetime import UTC, datetime

from fastapi import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, clear_alarm, raise_alarm

CLOCK_SKEW = "edge_clock_skew"
LATEST_EPOCH_S = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
SENT_AT_HEADER = "X-Edge-Sent-At"


def edge_clock_offset(sent_at: str | None, now: datetime) -> float | None:
    """Seconds the edge's clock is ahead of ours (negative: behind), from its send time."""
    if sent_at is None:
        return None  # an older edge, or a client that is not an edge: nothing to compare
    try:
        edge_time = float(sent_at)
    except ValueError:
        edge_time = math.nan
    # Finite and within the years datetime can hold: 1e308 or "nan" would otherwise reach the
    # alarm's value and message ("nan s behind") or overflow the database's real column.
    if not 0 <= edge_time < LATEST_EPOCH_S:
        raise HTTPException(
            400,
            f"{SENT_AT_HEADER}: {sent_at[:40]!r} is not a time in seconds since the epoch "
            f"(a finite number from 0 to {LATEST_EPOCH_S:.0f})",
        )
    return edge_time - now.timestamp()


async def check_edge_clock(
    session: AsyncSession, site_id: int, *, offset: float | None, now: datetime, limit_s: float
) -> None:
    """Raise edge_clock_skew while the offset is beyond the limit; clear it once back."""
    if offset is None:
        return
    source = AlarmSource(site_id)
    if abs(offset) <= limit_s:
        await clear_alarm(session, source, code=CLOCK_SKEW, ts=now)
        return
    entry = describe(CLOCK_SKEW)
    side = "ahead of" if offset > 0 else "behind"
    await raise_alarm(
        session,
        source,
        code=CLOCK_SKEW,
        priority=entry.priority,
        message=f"{entry.title}: the edge's clock is {abs(offset):.0f} s {side} the server's",
        ts=now,
        value=round(offset, 1),
        threshold=limit_s,
    )
