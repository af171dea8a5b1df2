"""Reading a site's stored watch list (what the API and the health page show)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

LATEST_DAY = text("SELECT max(day) FROM cell_watch_1d WHERE site_id = :site_id")
ENTRIES = text("""
SELECT w.rank, w.module_id, r.index, m.position, w.cell, w.score, w.regime, w.slope_per_day,
       w.cusum, w.level, w.days
FROM cell_watch_1d w JOIN module m ON m.id = w.module_id JOIN rack r ON r.id = m.rack_id
WHERE w.site_id = :site_id AND w.day = :day AND w.rank > :after
ORDER BY w.rank LIMIT :limit
""")
SCORE_HISTORY = text("""
SELECT d.day, d.load_score[:cell], d.rest_score[:cell], d.leak_ma[:cell],
       d.rest_offset_mv[:cell], d.discharge_offset_mv[:cell] FROM cell_score_1d d
WHERE d.module_id = :module_id AND d.day > :day - interval '30 days' AND d.day <= :day
ORDER BY d.day
""")


@dataclass(frozen=True)
class WatchRow:
    """One ranked cell on a day's watch list, with where it sits."""

    rank: int
    module_id: int
    string: int
    position: int
    cell: int
    score: float
    regime: str
    slope_per_day: float
    cusum: float
    level: float
    days: int


@dataclass(frozen=True)
class ScorePoint:
    """One day of a cell's scores (None: no usable sample in that regime)."""

    day: datetime
    load: float | None
    rest: float | None
    leak_ma: float | None
    rest_offset_mv: float | None = None  # the cell's mean V minus its module's median, at rest
    discharge_offset_mv: float | None = None  # the same under load while discharging


async def latest_watch_day(session: AsyncSession, *, site_id: int) -> datetime | None:
    """The last day the health job ranked for the site (None before its first run)."""
    return (await session.execute(LATEST_DAY, {"site_id": site_id})).scalar_one_or_none()


async def watch_rows(
    session: AsyncSession, *, site_id: int, day: datetime, after: int = 0, limit: int = 50
) -> list[WatchRow]:
    """A day's watch list in rank order, after a rank."""
    params = {"site_id": site_id, "day": day, "after": after, "limit": limit}
    return [WatchRow(*row) for row in await session.execute(ENTRIES, params)]


async def score_history(
    session: AsyncSession, *, module_id: int, cell: int, day: datetime
) -> list[ScorePoint]:
    """A cell's daily scores over the 30 days up to `day` (the evidence behind its rank)."""
    params = {"module_id": module_id, "cell": cell, "day": day}
    return [ScorePoint(*row) for row in await session.execute(SCORE_HISTORY, params)]
