"""The demo's backfilled alarms, acknowledged as an operator on shift would have, at the time.

A month of history whose alarms nobody acknowledged would fill the fleet screen with standing
alarms from weeks ago, and leave mean time to acknowledge empty. Each alarm raised before the
history's end gets a delay drawn from its own id (log-normal around a few minutes, as
acknowledgement times are heavy-tailed), so running this again changes nothing.
"""

import math
import random
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.lifecycle import Actor, acknowledge

MEDIAN_DELAY_S = 240.0
DELAY_SIGMA = 0.9
DELAY_RANGE_S = (20.0, 3600.0)
OPERATOR = Actor("operator (demo history)", None)

UNACKNOWLEDGED = text("""
SELECT a.id, a.raised_at FROM alarm a JOIN site s ON s.id = a.site_id
WHERE a.state IN ('unacked', 'rtn_unacked') AND a.raised_at < :until
  AND (CAST(:sites AS text[]) IS NULL OR s.code = ANY(:sites))
ORDER BY a.id
""")


def ack_delay(alarm_id: int) -> timedelta:
    """How long the demo's operator took to acknowledge an alarm (the same for the same id)."""
    drawn = random.Random(alarm_id).lognormvariate(math.log(MEDIAN_DELAY_S), DELAY_SIGMA)
    return timedelta(seconds=min(max(drawn, DELAY_RANGE_S[0]), DELAY_RANGE_S[1]))


async def acknowledge_history(
    session: AsyncSession, *, until: datetime, sites: list[str] | None
) -> int:
    """Acknowledge the alarms raised before `until` that still wait; returns how many."""
    params = {"until": until, "sites": sites}
    rows = list(await session.execute(UNACKNOWLEDGED, params))
    for alarm_id, raised_at in rows:
        at = min(raised_at + ack_delay(alarm_id), until)
        await acknowledge(session, alarm_id, actor=OPERATOR, note="demo history", at=at)
    return len(rows)
