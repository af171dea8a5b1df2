"""The query layer: latest state, raw vs rollup series with gaps kept, spread per string."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.telemetry.latest import site_latest
from app.telemetry.queries import module_series, spread_per_string
from app.telemetry.repository import copy_module_samples, copy_rows
from app.telemetry.rollups import MODULES, RACKS, mark_dirty, roll_up
from app.telemetry.sample_store import module_stream, upsert_latest, write_samples
from app.telemetry.schemas import RACK_SAMPLE_COLUMNS, RACK_SAMPLE_PG_TYPES, RackSampleRow
from tests.factories import make_site, module_ids, module_sample, rack_sample

T0 = datetime(2026, 11, 19, 0, 0, 0, tzinfo=UTC)


def rack_row(rack_id: int, ts: datetime, spread_mv: float, current: float) -> RackSampleRow:
    """A string sample with a given cell spread and current."""
    spread = {"cell_v_max": round(3.3 + spread_mv / 1000, 4)}
    return rack_sample(rack_id, ts, current_a=current, power_kw=current * 0.8, **spread)


async def test_short_range_reads_raw_and_keeps_gaps(session: AsyncSession) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    stamps = [T0 + timedelta(seconds=s) for s in (*range(0, 60, 5), *range(300, 360, 5))]
    await copy_module_samples(session, [module_sample(module_id, ts, [3.3] * 16) for ts in stamps])
    series = await module_series(
        session, module_id=module_id, start=T0, end=T0 + timedelta(minutes=10), max_points=600
    )
    assert series.source == "raw"
    assert series.bucket_s == 1.0
    assert [row[0] for row in series.rows] == stamps  # nothing invented between 60 s and 300 s


async def test_long_range_reads_rollups(session: AsyncSession) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    rows = [
        module_sample(module_id, T0 + timedelta(minutes=m), [3.3] * 15 + [3.31])
        for m in range(0, 24 * 60, 30)
    ]
    await copy_module_samples(session, rows)
    await mark_dirty(session, {MODULES: (r.ts for r in rows)})
    await roll_up(session, now=T0 + timedelta(days=2), limit=1000)
    series = await module_series(
        session, module_id=module_id, start=T0, end=T0 + timedelta(days=1), max_points=200
    )
    assert series.source == "rollup_1m"
    assert series.bucket_s == pytest.approx(432.0)
    assert len(series.rows) == 48
    spread = series.rows[0][series.columns.index("spread_mv")]
    assert spread == pytest.approx(10.0, abs=0.01)


async def test_site_latest_lists_every_module_even_without_data(session: AsyncSession) -> None:
    site = await make_site(session)
    ids = await module_ids(session, site)
    row = module_sample(ids[0], T0, [3.3] * 15 + [3.32])
    stream = module_stream([row])
    await write_samples(session, stream)
    await upsert_latest(session, stream)
    latest = await site_latest(session, site_id=site.site_id)
    assert [(m.string, m.position) for m in latest.modules] == [
        (1, 1),
        (1, 2),
        (1, 3),
        (2, 1),
        (2, 2),
        (2, 3),
    ]
    assert latest.modules[0].spread_mv == pytest.approx(20.0, abs=0.01)
    assert latest.modules[1].ts is None
    assert [r.string for r in latest.racks] == [1, 2]


async def test_spread_per_string_under_load(session: AsyncSession) -> None:
    site = await make_site(session)
    rows = [
        rack_row(
            site.rack_ids[0],
            T0 + timedelta(minutes=m),
            spread_mv=10 + (m % 10),
            current=-100.0 if m % 2 else 0.0,
        )
        for m in range(120)
    ]
    await copy_rows(session, "rack_sample", RACK_SAMPLE_COLUMNS, RACK_SAMPLE_PG_TYPES, rows)
    await mark_dirty(session, {RACKS: (r.ts for r in rows)})
    await roll_up(session, now=T0 + timedelta(days=1), limit=1000)
    every = await spread_per_string(
        session, site_id=site.site_id, start=T0, end=T0 + timedelta(hours=2)
    )
    loaded = await spread_per_string(
        session, site_id=site.site_id, start=T0, end=T0 + timedelta(hours=2), under_load=True
    )
    assert (every[0].minutes, loaded[0].minutes) == (120, 60)
    assert every[0].max_mv == pytest.approx(19.0, abs=0.01)
    # Under load = |I| >= 0.2 C of 280 Ah = 56 A: the odd minutes, which carry 11..19 mV.
    assert loaded[0].max_mv == pytest.approx(19.0, abs=0.01)
    assert every[1].minutes == 0
    assert every[1].p95_mv is None


async def test_long_windows_read_daily_histograms(session: AsyncSession) -> None:
    site = await make_site(session)
    rows = [
        rack_row(
            site.rack_ids[1],
            T0 + timedelta(minutes=m),
            spread_mv=(m * 7) % 40,
            current=-100.0 if m % 3 == 0 else 0.0,
        )
        for m in range(0, 3 * 24 * 60, 4)
    ]
    await copy_rows(session, "rack_sample", RACK_SAMPLE_COLUMNS, RACK_SAMPLE_PG_TYPES, rows)
    await mark_dirty(session, {RACKS: (r.ts for r in rows)})
    while await roll_up(session, now=T0 + timedelta(days=5), limit=2000):
        pass
    end = T0 + timedelta(days=3)
    long_all = await spread_per_string(session, site_id=site.site_id, start=T0, end=end)
    long_load = await spread_per_string(
        session, site_id=site.site_id, start=T0, end=end, under_load=True
    )
    spreads = sorted(float((m * 7) % 40) for m in range(0, 3 * 24 * 60, 4))
    loaded = sorted(float((m * 7) % 40) for m in range(0, 3 * 24 * 60, 4) if m % 3 == 0)
    assert long_all[1].minutes == len(spreads)
    assert long_load[1].minutes == len(loaded)
    # Within the 0.5 mV bin of the exact percentile over the same minutes.
    assert long_all[1].p95_mv == pytest.approx(percentile(spreads, 0.95), abs=0.5)
    assert long_load[1].p95_mv == pytest.approx(percentile(loaded, 0.95), abs=0.5)
    assert long_all[1].max_mv == pytest.approx(max(spreads), abs=0.01)
    assert long_all[0].minutes == 0


def percentile(ordered: list[float], q: float) -> float:
    """Linear-interpolation percentile of sorted values."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
