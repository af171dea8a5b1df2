"""Apparent self-discharge trended weekly, and the low-priority alarm above a site's level.

A day's apparent leakage (cell_score_1d.leak_ma) moves with the day's cycling; the median of
the last seven days is steady enough to alarm on and to trend week by week. One alarm per
module (the alarm table keeps one open alarm per module and code): it names the module's
worst cell, and clears once every cell of the module is back below the level.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, clear_alarm, raise_alarm

SELF_DISCHARGE = "cell_self_discharge"
LEVEL_SETTING = "self_discharge_alarm_ma"  # a site's own level, in its settings
WEEK = timedelta(days=7)
MIN_WEEK_DAYS = 4  # fewer scored days in a week give no weekly level

WEEKLY_LEVELS = text("""
SELECT d.module_id, m.rack_id, u.i::int AS cell,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY u.v) AS median_ma, count(*) AS days
FROM cell_score_1d d JOIN module m ON m.id = d.module_id JOIN rack r ON r.id = m.rack_id,
     unnest(d.leak_ma) WITH ORDINALITY u(v, i)
WHERE r.site_id = :site_id AND d.day > :last - interval '7 days' AND d.day <= :last
  AND u.v IS NOT NULL
GROUP BY d.module_id, m.rack_id, u.i
HAVING count(*) >= :min_days
""")
OPEN_MODULES = text("""
SELECT DISTINCT a.rack_id, a.module_id FROM alarm a
WHERE a.site_id = :site_id AND a.code = :code AND a.state <> 'normal' AND a.cleared_at IS NULL
""")
SITE_SETTINGS = text("SELECT code, settings FROM site WHERE id = :site_id")
CELL_WEEKS = text("""
SELECT date_trunc('week', d.day, 'UTC') AS week,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY d.leak_ma[:cell]) AS median_ma,
       count(d.leak_ma[:cell]) AS days
FROM cell_score_1d d
WHERE d.module_id = :module_id AND d.day <= :last
  AND d.day >= date_trunc('week', CAST(:last AS timestamptz), 'UTC') - :weeks * interval '7 days'
GROUP BY 1 ORDER BY 1
""")


@dataclass(frozen=True)
class WeeklyLeak:
    """A cell's apparent self-discharge over seven days: the median of its daily values."""

    module_id: int
    rack_id: int
    cell: int
    median_ma: float
    days: int


@dataclass(frozen=True)
class LeakWeek:
    """One calendar week (from Monday, UTC) of a cell's apparent self-discharge."""

    week: datetime
    median_ma: float | None
    days: int


def alarm_level_ma(site_code: str, settings: dict[str, Any]) -> float:
    """The site's level in mA: its setting, else the catalogue's; a bad setting is refused."""
    value = settings.get(LEVEL_SETTING)
    if value is None:
        default = describe(SELF_DISCHARGE).threshold
        assert default is not None, "the catalogue gives cell_self_discharge a threshold"
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(why_refused(site_code, value))  # NaN fails the range too
    return float(value)


def why_refused(site_code: str, value: object) -> str:
    """The error for a site's level that is not a positive, finite number of mA."""
    return (
        f"site {site_code}: settings.{LEVEL_SETTING} = {value!r} is not a positive, "
        "finite number of mA"
    )


async def weekly_levels(session: AsyncSession, *, site_id: int, last: datetime) -> list[WeeklyLeak]:
    """Every cell's weekly level over the seven days ending with the day `last`."""
    params = {"site_id": site_id, "last": last, "min_days": MIN_WEEK_DAYS}
    return [WeeklyLeak(*row) for row in await session.execute(WEEKLY_LEVELS, params)]


async def cell_weeks(
    session: AsyncSession, *, module_id: int, cell: int, last: datetime, weeks: int = 8
) -> list[LeakWeek]:
    """A cell's weekly apparent self-discharge, the week of `last` and `weeks` before it."""
    params = {"module_id": module_id, "cell": cell, "last": last, "weeks": weeks}
    return [LeakWeek(*row) for row in await session.execute(CELL_WEEKS, params)]


async def site_level_ma(session: AsyncSession, site_id: int) -> float:
    """The self-discharge alarm level of a site (its setting or the catalogue's default)."""
    code, settings = (await session.execute(SITE_SETTINGS, {"site_id": site_id})).one()
    return alarm_level_ma(code, settings or {})


async def check_self_discharge(
    session: AsyncSession, *, site_id: int, day: datetime, level_ma: float
) -> None:
    """Raise the alarm on each module with a cell whose weekly level, at the end of `day`, is
    above `level_ma`; clear it on the modules where none is any more.

    An alarm already standing is left as it is: a condition that lasts is one occurrence.
    """
    end = day + timedelta(days=1)  # the evidence is complete when the day is
    worst = worst_cells(await weekly_levels(session, site_id=site_id, last=day), level_ma)
    params = {"site_id": site_id, "code": SELF_DISCHARGE}
    standing = {m: r for r, m in await session.execute(OPEN_MODULES, params)}
    entry = describe(SELF_DISCHARGE)
    for module_id, leak in worst.items():
        if module_id in standing:
            continue
        message = (
            f"{entry.title}: cell {leak.cell} leaks about {leak.median_ma:.0f} mA more than its "
            f"module's typical cell (median of {leak.days} days; level {level_ma:g} mA)"
        )
        await raise_alarm(
            session,
            AlarmSource(site_id, leak.rack_id, module_id, leak.cell),
            code=SELF_DISCHARGE,
            priority=entry.priority,
            message=message,
            ts=end,
            value=round(leak.median_ma, 1),
            threshold=level_ma,
        )
    for module_id, rack_id in standing.items():
        if module_id not in worst:
            source = AlarmSource(site_id, rack_id, module_id)
            await clear_alarm(session, source, code=SELF_DISCHARGE, ts=end)


def worst_cells(levels: list[WeeklyLeak], level_ma: float) -> dict[int, WeeklyLeak]:
    """Per module, its cell furthest above the level (modules with none are left out)."""
    worst: dict[int, WeeklyLeak] = {}
    for leak in levels:
        known = worst.get(leak.module_id)
        if leak.median_ma > level_ma and (known is None or leak.median_ma > known.median_ma):
            worst[leak.module_id] = leak
    return worst
