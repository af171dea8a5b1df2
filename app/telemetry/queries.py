"""Read side for screens and exports: latest state, series over any range, spread per window.

Short ranges read raw samples; longer ones read the one-minute rollups. Either way the answer
is bucketed to at most `max_points`, and buckets without data are absent: gaps stay gaps.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.telemetry.rollups import LOAD_A, SPREAD_BIN_MV
from app.telemetry.schemas import SYSTEM_VALUES

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
       min(discharge_limit_a), avg(CASE WHEN contactor_closed THEN 1.0 ELSE 0.0 END)::float8
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


STRING_TEMP_RAW = text("""
SELECT time_bucket(make_interval(secs => :width), s.ts) AS t, max(s.temp_c_max)
FROM module_sample s JOIN module m ON m.id = s.module_id
WHERE m.rack_id = :id AND s.ts >= :start AND s.ts < :end
GROUP BY t ORDER BY t
""")

STRING_TEMP_ROLLUP = text("""
SELECT time_bucket(make_interval(secs => :width), s.bucket) AS t, max(s.temp_c_max)
FROM module_sample_1m s JOIN module m ON m.id = s.module_id
WHERE m.rack_id = :id AND s.bucket >= :start AND s.bucket < :end
GROUP BY t ORDER BY t
""")


async def string_series(
    session: AsyncSession,
    *,
    rack_id: int,
    start: datetime,
    end: datetime,
    max_points: int = DEFAULT_POINTS,
) -> Series:
    """rack_series plus the hottest module sensor of the string in each bucket."""
    series = await rack_series(
        session, rack_id=rack_id, start=start, end=end, max_points=max_points
    )
    statement = STRING_TEMP_RAW if series.source == "raw" else STRING_TEMP_ROLLUP
    params = {"id": rack_id, "start": start, "end": end, "width": series.bucket_s}
    hottest = dict(tuple(row) for row in await session.execute(statement, params))
    rows = [(*row, hottest.get(row[0])) for row in series.rows]
    return Series(series.source, series.bucket_s, (*series.columns, "temp_c_max"), rows)


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


SYSTEM_LATEST_FIELDS = ("ts", *SYSTEM_VALUES, "quality")
SITE_SYSTEM = text(f"""
SELECT {", ".join(SYSTEM_LATEST_FIELDS)} FROM system_latest WHERE site_id = :site_id
""")  # noqa: S608 - constant column names


@dataclass(frozen=True)
class SiteLatest:
    """The last known state of every string and module of a site, and of its system."""

    racks: list[dict[str, Any]]
    modules: list[dict[str, Any]]
    system: dict[str, Any] | None = None  # None: the site has never sent pack-level values


async def site_latest(session: AsyncSession, *, site_id: int) -> SiteLatest:
    """Latest state of a site, in three queries (strings, modules, then the system)."""
    racks = await strings_latest(session, site_id=site_id)
    modules = await session.execute(SITE_MODULES, {"site_id": site_id})
    return SiteLatest(
        racks=racks,
        modules=[dict(zip(MODULE_LATEST_FIELDS, row, strict=True)) for row in modules],
        system=await system_latest(session, site_id=site_id),
    )


async def system_latest(session: AsyncSession, *, site_id: int) -> dict[str, Any] | None:
    """The site's system's last reported state, or None if it never reported one."""
    row = (await session.execute(SITE_SYSTEM, {"site_id": site_id})).first()
    return None if row is None else dict(zip(SYSTEM_LATEST_FIELDS, row, strict=True))


async def strings_latest(session: AsyncSession, *, site_id: int) -> list[dict[str, Any]]:
    """Latest state of a site's strings only."""
    racks = await session.execute(SITE_RACKS, {"site_id": site_id})
    return [dict(zip(RACK_LATEST_FIELDS, row, strict=True)) for row in racks]


SHORT_WINDOW = timedelta(days=2)  # up to this, spread comes straight from minute rollups

SPREAD_MINUTES = text(f"""
SELECT r.index, r.id,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY s.spread_mv_p95),
       max(s.spread_mv_max), count(s.bucket)
FROM rack r JOIN {LOAD_A} l ON l.id = r.id
LEFT JOIN rack_sample_1m s ON s.rack_id = r.id AND s.bucket >= :start AND s.bucket < :end
     AND (NOT :under_load OR abs(s.current_a_avg) >= l.load_a)
WHERE r.site_id = :site_id
GROUP BY r.index, r.id ORDER BY r.index
""")  # noqa: S608

SPREAD_DAYS = text("""
SELECT r.index, r.id, d.bins, d.counts, d.counts_load, d.max_mv, d.max_mv_load
FROM rack r LEFT JOIN rack_spread_1d d ON d.rack_id = r.id AND d.day >= :start AND d.day < :end
WHERE r.site_id = :site_id ORDER BY r.index
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
    session: AsyncSession,
    *,
    site_id: int,
    start: datetime,
    end: datetime,
    under_load: bool = False,
) -> list[StringSpread]:
    """p95 and max of each string's per-minute spread over a window, optionally under load.

    Windows up to two days read the minute rollups (exact percentile). Longer windows read the
    daily histograms: whole UTC days overlapping the window, p95 to the 0.5 mV bin. Either way
    the p95 is over the per-minute p95 values, an upper bound of the raw p95 that ranks strings
    reliably at a cost independent of the sampling rate.
    """
    if end - start <= SHORT_WINDOW:
        params = {"site_id": site_id, "start": start, "end": end, "under_load": under_load}
        return [StringSpread(*row) for row in await session.execute(SPREAD_MINUTES, params)]
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    result = await session.execute(SPREAD_DAYS, {"site_id": site_id, "start": day, "end": end})
    histograms: dict[tuple[int, int], tuple[Counter[int], list[float]]] = {}
    for index, rack_id, bins, counts, counts_load, max_mv, max_mv_load in result:
        hist, maxima = histograms.setdefault((index, rack_id), (Counter(), []))
        if bins is not None:
            hist.update(dict(zip(bins, counts_load if under_load else counts, strict=True)))
            peak = max_mv_load if under_load else max_mv
            maxima.extend([peak] if peak is not None else [])
    return [
        StringSpread(
            index, rack_id, _histogram_p95(hist), max(maxima, default=None), sum(hist.values())
        )
        for (index, rack_id), (hist, maxima) in histograms.items()
    ]


def _histogram_p95(hist: Counter[int]) -> float | None:
    """The 95th percentile of binned spread values."""
    return histogram_quantile(hist, 0.95)


def histogram_quantile(hist: Counter[int], q: float) -> float | None:
    """A quantile of binned spread values: the middle of the bin holding that rank."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank, seen = q * total, 0
    for bin_index in sorted(hist):
        seen += hist[bin_index]
        if seen >= rank:
            return (bin_index + 0.5) * SPREAD_BIN_MV
    return None


FIRST_MODULE_SAMPLE = text(
    "SELECT min(ts) FROM module_sample WHERE module_id = :id AND ts >= :since"
)
FIRST_RACK_SAMPLE = text("SELECT min(ts) FROM rack_sample WHERE rack_id = :id AND ts >= :since")


async def first_sample_since(
    session: AsyncSession,
    *,
    since: datetime,
    module_id: int | None = None,
    rack_id: int | None = None,
) -> datetime | None:
    """The oldest sample of a module (or a string) at or after `since`, if any."""
    statement, asset = (
        (FIRST_MODULE_SAMPLE, module_id) if module_id is not None else (FIRST_RACK_SAMPLE, rack_id)
    )
    found: datetime | None = (
        await session.execute(statement, {"id": asset, "since": since})
    ).scalar()
    return found


MODULE_NOW = text("""
SELECT m.id, m.position, m.cell_count, m.temp_count, m.chemistry, m.capacity_ah, m.serial,
       m.firmware, r.id AS rack_id, r.index AS string, r.name AS string_name, l.ts, l.soc_pct,
       l.soh_pct, l.current_a, l.voltage_v, l.cell_v, l.cell_v_min_idx AS min_idx,
       l.cell_v_max_idx AS max_idx, l.temp_c, l.balancing, l.fault_bits, l.quality
FROM module m JOIN rack r ON r.id = m.rack_id
LEFT JOIN module_latest l ON l.module_id = m.id
WHERE m.id = :module_id AND r.site_id = :site_id
""")


@dataclass(frozen=True, slots=True)
class ModuleNow:
    """A module's registry entry and its latest sample (all None before its first)."""

    id: int
    position: int
    cell_count: int
    temp_count: int
    chemistry: str
    capacity_ah: float
    serial: str | None
    firmware: str | None
    rack_id: int
    string: int
    string_name: str
    ts: datetime | None
    soc_pct: float | None
    soh_pct: float | None
    current_a: float | None
    voltage_v: float | None
    cell_v: list[float | None] | None  # None inside: a cell the BMS flagged invalid
    min_idx: int | None
    max_idx: int | None
    temp_c: list[float] | None
    balancing: int | None
    fault_bits: int | None
    quality: int | None


async def module_now(session: AsyncSession, site_id: int, module_id: int) -> ModuleNow | None:
    """The site's module with its latest sample, or None when the site has no such module."""
    params = {"module_id": module_id, "site_id": site_id}
    row = (await session.execute(MODULE_NOW, params)).first()
    return None if row is None else ModuleNow(**row._mapping)
