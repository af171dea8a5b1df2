"""KPI queries over a window, for some sites or the whole fleet (sites None).

Each function returns the figure and the number of events or minutes it rests on, so the page
can say how much evidence is behind it.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import SiteIds
from app.telemetry.queries import SHORT_WINDOW, histogram_quantile
from app.telemetry.rollups import LOAD_A

SITE = "(CAST(:sites AS int[]) IS NULL OR {col} = ANY(:sites))"


def _params(sites: SiteIds, start: datetime, end: datetime) -> dict[str, Any]:
    return {"sites": None if sites is None else list(sites), "start": start, "end": end}


SPREAD_MINUTES = text(f"""
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s.spread_mv_p95),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY s.spread_mv_p95), max(s.spread_mv_max),
       count(*)
FROM rack_sample_1m s JOIN rack r ON r.id = s.rack_id JOIN {LOAD_A} l ON l.id = r.id
WHERE {SITE.format(col="r.site_id")} AND s.bucket >= :start AND s.bucket < :end
  AND abs(s.current_a_avg) >= l.load_a
""")  # noqa: S608 - constants only

SPREAD_DAYS = text(f"""
SELECT d.bins, d.counts_load, d.max_mv_load FROM rack_spread_1d d JOIN rack r ON r.id = d.rack_id
WHERE {SITE.format(col="r.site_id")} AND d.day >= :start AND d.day < :end
""")  # noqa: S608 - constants only


@dataclass(frozen=True)
class Spread:
    """Cell voltage spread under load over the window (mV), from per-minute string p95s."""

    p50_mv: float | None
    p95_mv: float | None
    max_mv: float | None
    minutes: int


async def spread_under_load(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> Spread:
    """p50/p95/max of string spread in minutes under load (exact up to 2 days, else binned)."""
    if end - start <= SHORT_WINDOW:
        row = (await session.execute(SPREAD_MINUTES, _params(sites, start, end))).one()
        return Spread(row[0], row[1], row[2], int(row[3]))
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    hist: Counter[int] = Counter()
    peaks: list[float] = []
    for bins, counts, peak in await session.execute(SPREAD_DAYS, _params(sites, day, end)):
        hist.update(dict(zip(bins, counts, strict=True)))
        peaks.extend([peak] if peak is not None else [])
    return Spread(
        histogram_quantile(hist, 0.5),
        histogram_quantile(hist, 0.95),
        max(peaks, default=None),
        sum(hist.values()),
    )


MTTA = text(f"""
SELECT avg(extract(epoch FROM acked_at - raised_at)), count(*) FROM alarm
WHERE {SITE.format(col="site_id")} AND raised_at >= :start AND raised_at < :end
  AND acked_at IS NOT NULL
""")  # noqa: S608 - constants only

# Fault isolations whose cause is known (fault_code: the alarm a command answers, or the one
# the BMS acted on; app/isolations/onset.py): an operator's isolation naming no fault has no
# onset to measure from, and maintenance ones are not faults.
COUNTED = "reason = 'fault' AND fault_code IS NOT NULL"

TIME_TO_ISOLATE = text(f"""
SELECT isolated_by, avg(extract(epoch FROM isolated_at - onset_at)), count(*) FROM isolation
WHERE {SITE.format(col="site_id")} AND {COUNTED} AND isolated_at IS NOT NULL
  AND onset_at >= :start AND onset_at < :end
GROUP BY ROLLUP (isolated_by) ORDER BY isolated_by NULLS FIRST
""")  # noqa: S608 - constants only

MTTR = text(f"""
SELECT avg(d), percentile_cont(0.5) WITHIN GROUP (ORDER BY d),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY d), count(*)
FROM (SELECT extract(epoch FROM returned_at - onset_at) AS d FROM isolation
      WHERE {SITE.format(col="site_id")} AND {COUNTED} AND returned_at IS NOT NULL
        AND returned_at >= :start AND returned_at < :end) repairs
""")  # noqa: S608 - constants only


@dataclass(frozen=True)
class Durations:
    """Mean (and where useful median and p90) of a duration in seconds, over `count` events."""

    mean_s: float | None
    count: int
    median_s: float | None = None
    p90_s: float | None = None


async def mtta(session: AsyncSession, sites: SiteIds, start: datetime, end: datetime) -> Durations:
    """Mean time to acknowledge alarms raised in the window."""
    row = (await session.execute(MTTA, _params(sites, start, end))).one()
    return Durations(row[0], int(row[1]))


async def time_to_isolate(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> dict[str, Durations]:
    """Mean fault onset → contactor-open feedback, overall ('all') and by who isolated."""
    result = await session.execute(TIME_TO_ISOLATE, _params(sites, start, end))
    return {(by or "all"): Durations(mean, int(n)) for by, mean, n in result}


async def mttr(session: AsyncSession, sites: SiteIds, start: datetime, end: datetime) -> Durations:
    """Fault onset → return to service, for fault isolations that ended in the window."""
    mean, median, p90, n = (await session.execute(MTTR, _params(sites, start, end))).one()
    return Durations(mean, int(n), median, p90)


AVAILABILITY = text(f"""
WITH strings AS (SELECT site_id, count(*) AS n FROM rack GROUP BY site_id),
minutes AS (
  SELECT s.bucket, r.site_id,
         sum(s.closed_samples::float / s.samples) AS closed,
         sum(s.closed_samples::float / s.samples * least(1.0,
             coalesce(s.charge_limit_a_min / nullif(r.max_charge_a, 0), 1.0),
             coalesce(s.discharge_limit_a_min / nullif(r.max_discharge_a, 0), 1.0))) AS capacity
  FROM rack_sample_1m s JOIN rack r ON r.id = s.rack_id
  WHERE {SITE.format(col="r.site_id")} AND s.bucket >= :start AND s.bucket < :end
  GROUP BY s.bucket, r.site_id)
SELECT avg((closed > 0)::int), avg(capacity / strings.n), count(*)
FROM minutes JOIN strings ON strings.site_id = minutes.site_id
""")  # noqa: S608 - constants only


@dataclass(frozen=True)
class Availability:
    """Share of site-minutes with data in which the site could carry power, two ways."""

    time_based: float | None  # fraction of minutes with any string connected
    capacity_weighted: float | None  # mean connected capacity, derates counted pro rata
    minutes: int


async def availability(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> Availability:
    """Time-based and capacity-weighted availability from the string minute rollups."""
    row = (await session.execute(AVAILABILITY, _params(sites, start, end))).one()
    return Availability(row[0], row[1], int(row[2]))


BALANCING = text(f"""
SELECT sum(drop_mv), count(*) FROM (
  SELECT lag(ms.spread_mv_avg) OVER w - ms.spread_mv_avg AS drop_mv,
         ms.bucket - lag(ms.bucket) OVER w AS step, ms.balancing_samples,
         lag(ms.balancing_samples) OVER w AS before
  FROM module_sample_1m ms JOIN module m ON m.id = ms.module_id JOIN rack r ON r.id = m.rack_id
  WHERE {SITE.format(col="r.site_id")} AND ms.bucket >= :start AND ms.bucket < :end
  WINDOW w AS (PARTITION BY ms.module_id ORDER BY ms.bucket)) steps
WHERE balancing_samples > 0 AND before > 0 AND step = interval '1 minute'
""")  # noqa: S608 - constants only


@dataclass(frozen=True)
class Balancing:
    """How fast balancing narrows module spread."""

    mv_per_hour: float | None
    minutes: int  # module-minutes of balancing the figure rests on


async def balancing_speed(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> Balancing:
    """Mean spread reduction per hour over consecutive minutes with balancing active."""
    drop, minutes = (await session.execute(BALANCING, _params(sites, start, end))).one()
    minutes = int(minutes)
    return Balancing(None if not minutes else float(drop) / minutes * 60, minutes)


PARETO = text(f"""
WITH counts AS (
  SELECT code, count(*) AS alarms, sum(occurrences) AS occurrences FROM alarm
  WHERE {SITE.format(col="site_id")} AND raised_at >= :start AND raised_at < :end
  GROUP BY code),
repairs AS (
  SELECT fault_code, avg(extract(epoch FROM returned_at - onset_at)) AS mttr FROM isolation
  WHERE {SITE.format(col="site_id")} AND {COUNTED} AND returned_at IS NOT NULL
    AND returned_at >= :start AND returned_at < :end
  GROUP BY fault_code)
SELECT c.code, c.alarms, c.occurrences, r.mttr FROM counts c
LEFT JOIN repairs r ON r.fault_code = c.code
ORDER BY c.alarms DESC, c.code
""")  # noqa: S608 - constants only


@dataclass(frozen=True)
class ParetoRow:
    """One fault code's share of the window's alarms."""

    code: str
    alarms: int
    occurrences: int
    mttr_s: float | None
    cumulative_pct: float


async def fault_pareto(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> list[ParetoRow]:
    """Alarms by fault code, most frequent first, with the running share of all alarms."""
    rows = list(await session.execute(PARETO, _params(sites, start, end)))
    total = sum(int(r[1]) for r in rows) or 1
    running, out = 0, []
    for code, alarms, occurrences, repair in rows:
        running += int(alarms)
        out.append(ParetoRow(code, int(alarms), int(occurrences), repair, 100.0 * running / total))
    return out


TIMELINE = text(f"""
SELECT s.code, r.index, m.position, i.reason, i.isolated_by, i.fault_code, i.onset_at,
       i.isolated_at, i.returned_at
FROM isolation i JOIN site s ON s.id = i.site_id JOIN rack r ON r.id = i.rack_id
LEFT JOIN module m ON m.id = i.module_id
WHERE {SITE.format(col="i.site_id")} AND i.onset_at < :end
  AND coalesce(i.returned_at, :end) >= :start
ORDER BY s.code, r.index, m.position NULLS FIRST, i.onset_at
LIMIT 500
""")  # noqa: S608 - constants only


@dataclass(frozen=True)
class TimelineBar:
    """One isolation placed on the window: where it starts and how wide it is, in percent."""

    site_code: str
    label: str
    reason: str
    isolated_by: str
    fault_code: str | None
    onset_at: datetime
    returned_at: datetime | None
    left_pct: float
    width_pct: float


async def isolation_timeline(
    session: AsyncSession, sites: SiteIds, start: datetime, end: datetime
) -> list[TimelineBar]:
    """Isolations overlapping the window, as bars on it."""
    span = (end - start).total_seconds()
    bars = []
    for code, string, module, reason, by, fault, onset, _, returned in await session.execute(
        TIMELINE, _params(sites, start, end)
    ):
        begin, finish = max(onset, start), min(returned or end, end)
        left = (begin - start).total_seconds() / span * 100
        width = max(0.4, (finish - begin).total_seconds() / span * 100)  # visible when brief
        label = f"String {string}" + (f" module {module}" if module else "")
        bars.append(TimelineBar(code, label, reason, by, fault, onset, returned, left, width))
    return bars
