"""The fleet's watch list: every visible site's latest ranked day, merged by score.

Scores are in module spreads (or units of apparent leakage), the same yardstick on every site,
so one ranking across sites is meaningful. Each site contributes the list of the last day the
health job ranked for it; the order is score (highest first), then site code, then the site's
own rank, which is also the key a page continues after.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.health.queries import WatchRow

FLEET_ENTRIES = text("""
WITH latest AS (
    SELECT w.site_id, max(w.day) AS day FROM cell_watch_1d w
    WHERE CAST(:sites AS int[]) IS NULL OR w.site_id = ANY(:sites)
    GROUP BY w.site_id
)
SELECT s.code, s.name, w.day, w.rank, w.module_id, r.index, m.position, w.cell, w.score,
       w.regime, w.slope_per_day, w.cusum, w.level, w.days
FROM latest l JOIN cell_watch_1d w ON w.site_id = l.site_id AND w.day = l.day
JOIN site s ON s.id = w.site_id JOIN module m ON m.id = w.module_id JOIN rack r ON r.id = m.rack_id
WHERE CAST(:after_score AS real) IS NULL
   OR (-w.score, s.code, w.rank) > (-CAST(:after_score AS real), :after_code, :after_rank)
ORDER BY w.score DESC, s.code, w.rank
LIMIT :limit
""")


@dataclass(frozen=True)
class FleetWatchRow:
    """A cell on the fleet's watch list: its site, the day its site was ranked, its entry."""

    site_code: str
    site_name: str
    day: datetime
    entry: WatchRow


@dataclass(frozen=True)
class FleetKey:
    """Where a fleet list page ends: the last entry's score, site code and rank."""

    score: float
    site_code: str
    rank: int


async def fleet_watch_rows(
    session: AsyncSession, *, sites: Sequence[int] | None, after: FleetKey | None, limit: int
) -> list[FleetWatchRow]:
    """The highest-scoring cells of the given sites (None: all), after a key."""
    params = {
        "sites": None if sites is None else list(sites),
        "after_score": after.score if after else None,
        "after_code": after.site_code if after else "",
        "after_rank": after.rank if after else 0,
        "limit": limit,
    }
    return [
        FleetWatchRow(code, name, day, WatchRow(*entry))
        for code, name, day, *entry in await session.execute(FLEET_ENTRIES, params)
    ]
