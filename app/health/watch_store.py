"""Reading a site's daily cell scores for a window, and storing its watch list for a day."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import delete, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.health.models import CellWatchDay
from app.health.trend import Matrix, Vector
from app.health.watchlist import LEAK, LOAD, REGIMES, REST, CellKey, WatchEntry, WatchSettings

WINDOW_SCORES = text("""
SELECT d.module_id, m.cell_count, d.day, d.load_score, d.rest_score, d.leak_ma
FROM cell_score_1d d JOIN module m ON m.id = d.module_id JOIN rack r ON r.id = m.rack_id
WHERE r.site_id = :site_id AND d.day >= :first AND d.day <= :last
ORDER BY d.module_id, d.day
""")


@dataclass(frozen=True)
class WindowScores:
    """A site's cell scores over a window: per regime one row per cell, one column per day."""

    keys: list[CellKey]
    regimes: dict[str, Matrix]
    days: Vector  # day numbers from the window's first day


async def window_scores(
    session: AsyncSession, *, site_id: int, last: datetime, settings: WatchSettings
) -> WindowScores:
    """The scores of the window's days ending with `last` (NaN where none was stored)."""
    window_days = settings.window_days
    first = last - timedelta(days=window_days - 1)
    result = await session.execute(
        WINDOW_SCORES, {"site_id": site_id, "first": first, "last": last}
    )
    rows = result.all()
    rows_of: dict[int, int] = {}
    keys: list[CellKey] = []
    for module_id, cell_count, *_ in rows:
        if module_id not in rows_of:
            rows_of[module_id] = len(keys)
            keys.extend(CellKey(module_id, cell) for cell in range(1, cell_count + 1))
    regimes = {name: np.full((len(keys), window_days), np.nan) for name in REGIMES}
    for module_id, cell_count, day, load_score, rest_score, leak_ma in rows:
        start, column = rows_of[module_id], (day - first).days
        leak = [None if v is None else v / settings.leak_unit_ma for v in leak_ma]
        for name, scores in ((LOAD, load_score), (REST, rest_score), (LEAK, leak)):
            if scores is not None:
                values = [np.nan if s is None else s for s in scores[:cell_count]]
                regimes[name][start : start + len(values), column] = values
    return WindowScores(keys, regimes, np.arange(window_days, dtype=np.float64))


async def store_watch(
    session: AsyncSession, *, site_id: int, day: datetime, entries: list[WatchEntry]
) -> None:
    """Replace the site's watch list for `day` with `entries` (ranked 1.. in their order)."""
    await session.execute(
        delete(CellWatchDay).where(CellWatchDay.site_id == site_id, CellWatchDay.day == day)
    )
    if not entries:
        return
    await session.execute(
        insert(CellWatchDay),
        [
            {
                "site_id": site_id,
                "day": day,
                "module_id": e.module_id,
                "cell": e.cell,
                "rank": rank,
                "score": e.score,
                "regime": e.regime,
                "slope_per_day": e.slope_per_day,
                "cusum": e.cusum,
                "level": e.level,
                "days": e.days,
            }
            for rank, e in enumerate(entries, start=1)
        ],
    )
