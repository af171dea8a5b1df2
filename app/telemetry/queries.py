"""Read side for screens and exports: latest state, series over any range, spread per window.

Short ranges read raw samples; longer ones read the one-minute rollups. Either way the answer
is bucketed to at most `max_points`, and buckets without data are absent: gaps stay gaps.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

RAW_LIMIT = timedelta(hours=6)  # beyond this, series come from the rollups
DEFAULT_POINTS = 1500


@dataclass(frozen=True, slots=True)
class Series:
    """A time series: bucket width, column names and one tuple per non-empty bucket."""

    source: str  # "raw" or "rollup_1m"
    bucket_s: float
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def bucket_width(start: datetime, end: datetime, max_points: int, floor_s: float) -> float:
    """Seconds per bucket so the range fits in max_points, never below the data's own period."""
    return max(floor_s, (end - start).total_seconds() / max_points)


MODULE_COLUMNS = (
    "ts",
    "soc_pct",
    "current_a",
    "voltage_v",
    "cell_v_min",
    "cell_v_max",
    "spread_mv",
    "temp_c_max",
)

MODULE_RAW = text("""
SELECT time_bucket(make_interval(secs => :width), ts) AS t, avg(soc_pct), avg(current_a),
       avg(voltage_v), min(cell_v_min), max(cell_v_max), max((cell_v_max - cell_v_min) * 1000),
       max(temp_c_max)
FROM module_sample WHERE module_id = :id AND ts >= :start AND ts < :end
GROUP BY t ORDER BY t
""")

MODULE_ROLLUP = text("""
SELECT time_bucket(make_interval(secs => :width), bucket) AS t, avg(soc_pct_avg),
       avg(current_a_avg), avg(voltage_v_avg), min(cell_v_min), max(cell_v_max),
       max(spread_mv_max), max(temp_c_max)
FROM module_sample_1m WHERE module_id = :id AND bucket >= :start AND bucket < :end
GROUP BY t ORDER BY t
""")

RACK_COLUMNS = (
    "ts",
    "voltage_v",
    "current_a",
    "power_kw",
    "soc_pct",
    "spread_mv",
    "charge_limit_a",
    "discharge_limit_a",
    "closed_fraction",
)

RACK_RAW = text("""
SELECT time_bucket(make_interval(secs => :width), ts) AS t, avg(voltage_v), avg(current_a),
       avg(power_kw), avg(soc_pct), max((cell_v_max - cell_v_min) * 1000), min(charge_limit_a),
       min(discharge_limit_a), avg(CASE WHEN contactor_closed THEN 1.0 ELSE 0.0 END)
FROM rack_sample WHERE rack_id = :id AND ts >= :start AND ts < :end
GROUP BY t ORDER BY t
""")

RACK_ROLLUP = text("""
SELECT time_bucket(make_interval(secs => :width), bucket) AS t, avg(voltage_v_avg),
       avg(current_a_avg), avg(power_kw_avg), avg(soc_pct_avg), max(spread_mv_max),
       min(charge_limit_a_min), min(discharge_limit_a_min),
       sum(closed_samples)::float / sum(samples)
FROM rack_sample_1m WHERE rack_id = :id AND bucket >= :start AND bucket < :end
GROUP BY t ORDER BY t
""")


async def _series(
    session: AsyncSession,
    statements: tuple[Any, Any, tuple[str, ...]],
    *,
    asset_id: int,
    start: datetime,
    end: datetime,
    max_points: int,
) -> Series:
    raw_statement, rollup_statement, columns = statements
    use_raw = end - start <= RAW_LIMIT
    width = bucket_width(start, end, max_points, 1.0 if use_raw else 60.0)
    statement = raw_statement if use_raw else rollup_statement
    result = await session.execute(
        statement, {"id": asset_id, "start": start, "end": end, "width": width}
    )
    return Series("raw" if use_raw else "rollup_1m", width, columns, [tuple(r) for r in result])


async def module_series(
    session: AsyncSession,
    *,
    module_id: int,
    start: datetime,
    end: datetime,
    max_points: int = DEFAULT_POINTS,
) -> Series:
    """A module's SoC, current, voltage, cell extremes, spread and hottest sensor over time."""
    return await _series(
        session,
        (MODULE_RAW, MODULE_ROLLUP, MODULE_COLUMNS),
        asset_id=module_id,
        start=start,
        end=end,
        max_points=max_points,
    )


async def rack_series(
    session: AsyncSession,
    *,
    rack_id: int,
    start: datetime,
    end: datetime,
    max_points: int = DEFAULT_POINTS,
) -> Series:
    """A string's voltage, current, power, SoC, spread, limits and contactor state over time."""
    return await _series(
        session,
        (RACK_RAW, RACK_ROLLUP, RACK_COLUMNS),
        asset_id=rack_id,
        start=start,
        end=end,
        max_points=max_points,
    )


SITE_MODULES = text("""
SELECT r.index, m.position, m.id, l.ts, l.soc_pct, l.soh_pct, l.cell_v_min, l.cell_v_max,
       l.cell_v_avg, (l.cell_v_max - l.cell_v_min) * 1000, l.temp_c_max, l.fault_bits,
       l.balancing, l.quality
FROM module m JOIN rack r ON r.id = m.rack_id
LEFT JOIN module_latest l ON l.module_id = m.id
WHERE r.site_id = :site_id ORDER BY r.index, m.position
""")

SITE_RACKS = text("""
SELECT r.index, r.id, r.name, l.ts, l.voltage_v, l.current_a, l.power_kw, l.soc_pct,
       l.contactor_closed, l.charge_limit_a, l.discharge_limit_a, l.insulation_kohm,
       l.disable_reason, l.fault_bits, r.max_charge_a, r.max_discharge_a
FROM rack r LEFT JOIN rack_latest l ON l.rack_id = r.id
WHERE r.site_id = :site_id ORDER BY r.index
""")

MODULE_LATEST_FIELDS = (
    "string",
    "position",
    "module_id",
    "ts",
    "soc_pct",
    "soh_pct",
    "cell_v_min",
    "cell_v_max",
    "cell_v_avg",
    "spread_mv",
    "temp_c_max",
    "fault_bits",
    "balancing",
    "quality",
)
RACK_LATEST_FIELDS = (
    "string",
    "rack_id",
    "name",
    "ts",
    "voltage_v",
    "current_a",
    "power_kw",
    "soc_pct",
    "contactor_closed",
    "charge_limit_a",
    "discharge_limit_a",
    "insulation_kohm",
    "disable_reason",
    "fault_bits",
    "max_charge_a",
    "max_discharge_a",
)


@dataclass(frozen=True)
class SiteLatest:
    """The last known state of every string and module of a site."""

    racks: list[dict[str, Any]]
    modules: list[dict[str, Any]]


async def site_latest(session: AsyncSession, *, site_id: int) -> SiteLatest:
    """Latest state of a site, in two queries (strings, then modules)."""
    racks = await session.execute(SITE_RACKS, {"site_id": site_id})
    modules = await session.execute(SITE_MODULES, {"site_id": site_id})
    return SiteLatest(
        racks=[dict(zip(RACK_LATEST_FIELDS, row, strict=True)) for row in racks],
        modules=[dict(zip(MODULE_LATEST_FIELDS, row, strict=True)) for row in modules],
    )


SPREAD_P95 = text("""
SELECT r.index, r.id,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY s.spread_mv_p95),
       max(s.spread_mv_max), count(s.bucket)
FROM rack r
LEFT JOIN rack_sample_1m s ON s.rack_id = r.id AND s.bucket >= :start AND s.bucket < :end
     AND (:load_a <= 0 OR abs(s.current_a_avg) >= :load_a)
WHERE r.site_id = :site_id
GROUP BY r.index, r.id ORDER BY r.index
""")


@dataclass(frozen=True, slots=True)
class StringSpread:
    """Cell voltage spread of one string over a window (mV)."""

    string: int
    rack_id: int
    p95_mv: float | None
    max_mv: float | None
    minutes: int


async def spread_per_string(
    session: AsyncSession, *, site_id: int, start: datetime, end: datetime, load_a: float = 0.0
) -> list[StringSpread]:
    """p95 and max spread per string, optionally only for minutes under load (|I| >= load_a).

    The p95 is taken over the per-minute p95 values of the rollups: an upper bound of the raw
    p95 that stays exact enough for ranking strings, at a cost independent of the window.
    """
    params = {"site_id": site_id, "start": start, "end": end, "load_a": load_a}
    result = await session.execute(SPREAD_P95, params)
    return [StringSpread(*row) for row in result]
