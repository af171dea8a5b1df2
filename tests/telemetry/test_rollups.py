"""One-minute rollups and retention against the real TimescaleDB."""

import asyncio
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.telemetry.repository import copy_module_samples, copy_rows
from app.telemetry.retention import apply_retention
from app.telemetry.rollups import CLAIM, MODULES, RACKS, mark_dirty, roll_up
from app.telemetry.schemas import RACK_SAMPLE_COLUMNS, RACK_SAMPLE_PG_TYPES, RackSampleRow
from tests.factories import make_site, module_ids, module_sample

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)


def cells(i: int) -> list[float]:
    """Sixteen cells whose spread grows with i (1 mV per step)."""
    return [3.3] * 15 + [round(3.3 + (i + 1) / 1000, 4)]


def percentile_cont(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def write_minute(session: AsyncSession, module_id: int, start: datetime, n: int = 12) -> None:
    """n samples 5 s apart from `start`, queued for rollup as ingest would."""
    rows = [module_sample(module_id, start + timedelta(seconds=5 * i), cells(i)) for i in range(n)]
    await copy_module_samples(session, rows)
    await mark_dirty(session, {MODULES: (r.ts for r in rows)})


async def rollup_rows(session: AsyncSession, module_id: int) -> list[tuple[object, ...]]:
    """(bucket, samples, cell_v_max, spread max, spread p95) of a module, by bucket."""
    result = await session.execute(
        text(
            "SELECT bucket, samples, cell_v_max, spread_mv_max, spread_mv_p95 "
            "FROM module_sample_1m WHERE module_id = :m ORDER BY bucket"
        ),
        {"m": module_id},
    )
    return [tuple(row) for row in result]


async def test_rollup_matches_the_raw_samples(session: AsyncSession) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    await write_minute(session, module_id, T0)
    await write_minute(session, module_id, T0 + timedelta(minutes=1))
    assert await roll_up(session, now=LATER) == 2

    rows = await rollup_rows(session, module_id)
    spreads = [round((i + 1) * 1.0, 6) for i in range(12)]
    assert [r[0] for r in rows] == [T0, T0 + timedelta(minutes=1)]
    _, samples, v_max, spread_max, spread_p95 = rows[0]
    assert samples == 12
    assert v_max == pytest.approx(3.312)
    assert spread_max == pytest.approx(max(spreads), abs=1e-3)
    assert spread_p95 == pytest.approx(percentile_cont(spreads, 0.95), abs=1e-3)
    assert statistics.mean(spreads) == pytest.approx(6.5)


async def test_late_data_recomputes_its_minute_and_reruns_change_nothing(
    session: AsyncSession,
) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    await write_minute(session, module_id, T0, n=6)
    await roll_up(session, now=LATER)
    before = await rollup_rows(session, module_id)
    assert await roll_up(session, now=LATER) == 0  # nothing dirty: nothing redone
    assert await rollup_rows(session, module_id) == before

    late = module_sample(module_id, T0 + timedelta(seconds=58), cells(40))
    await copy_module_samples(session, [late])
    await mark_dirty(session, {MODULES: [late.ts]})
    await roll_up(session, now=LATER)
    ((_, samples, v_max, _, _),) = await rollup_rows(session, module_id)
    assert samples == 7
    assert v_max == pytest.approx(3.341)


async def test_an_unfinished_minute_waits(session: AsyncSession) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    await write_minute(session, module_id, T0, n=3)
    assert await roll_up(session, now=T0 + timedelta(seconds=30)) == 0
    assert await roll_up(session, now=T0 + timedelta(minutes=2)) == 1


async def test_concurrent_jobs_claim_disjoint_minutes(engine: AsyncEngine) -> None:
    buckets = [T0 - timedelta(days=400, minutes=i) for i in range(6)]
    async with AsyncSession(engine) as setup, setup.begin():
        await setup.execute(
            text(
                "INSERT INTO rollup_dirty SELECT 'test-source', unnest(CAST(:b AS timestamptz[]))"
            ),
            {"b": buckets},
        )

    async def claim(limit: int) -> set[datetime]:
        async with AsyncSession(engine) as session, session.begin():
            claimed = await session.execute(
                CLAIM, {"source": "test-source", "cutoff": LATER, "limit": limit}
            )
            await asyncio.sleep(0.3)  # hold the row locks while the other job claims
            return set(claimed.scalars())

    first, second = await asyncio.gather(claim(4), claim(4))
    assert not first & second
    assert first | second == set(buckets)


async def test_retention_drops_old_raw_chunks_only(session: AsyncSession) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=45), now - timedelta(hours=1)
    await copy_module_samples(
        session,
        [module_sample(module_id, old, cells(1)), module_sample(module_id, recent, cells(2))],
    )
    await session.execute(
        text(
            "INSERT INTO module_sample_1m (module_id, bucket, samples, "
            "cell_v_min, cell_v_max, cell_v_avg, spread_mv_avg, spread_mv_max, "
            "spread_mv_p95, balancing_samples) VALUES (:m, :b, 1, 3.3, 3.3, "
            "3.3, 0, 0, 0, 0)"
        ),
        {"m": module_id, "b": old},
    )

    result = await apply_retention(
        session, raw_age=timedelta(days=30), rollup_age=timedelta(days=730)
    )
    assert result.dropped["module_sample"] >= 1
    left = await session.execute(
        text("SELECT ts FROM module_sample WHERE module_id = :m"), {"m": module_id}
    )
    assert [row[0] for row in left] == [recent]
    kept = await session.execute(
        text("SELECT count(*) FROM module_sample_1m WHERE module_id = :m"), {"m": module_id}
    )
    assert kept.scalar() == 1  # rollups are kept longer
    again = await apply_retention(
        session, raw_age=timedelta(days=30), rollup_age=timedelta(days=730)
    )
    assert again.dropped["module_sample"] == 0


async def test_only_one_retention_run_at_a_time(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as holder, holder.begin():
        await holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x52_54_52_45})
        async with AsyncSession(engine) as other, other.begin():
            result = await apply_retention(
                other, raw_age=timedelta(days=30), rollup_age=timedelta(days=730)
            )
    assert result.skipped


async def test_string_rollup_keeps_the_energy_balance_across_a_counter_reset(
    session: AsyncSession,
) -> None:
    applied = await make_site(session)
    rack_id = (
        (
            await session.execute(
                text("SELECT id FROM rack WHERE site_id = :s ORDER BY index"),
                {"s": applied.site_id},
            )
        )
        .scalars()
        .first()
    )
    assert rack_id is not None
    # (second, SoC, charged, discharged): the BMS restarts at 30 s and counts from zero again;
    # the sample at 40 s lacks its SoC and takes no part in the balance.
    readings = [
        (0, 50.0, 100.0, 80.0),
        (10, 50.5, 100.5, 80.0),
        (20, 51.0, 101.0, 80.0),
        (30, 51.5, 0.5, 0.0),
        (40, None, 0.9, 0.0),
        (50, 52.0, 1.0, 0.25),
    ]
    rows = [
        RackSampleRow(
            rack_id,
            T0 + timedelta(seconds=s),
            800.0,
            50.0,
            40.0,
            soc,
            98.0,
            True,
            3,
            0,
            5000.0,
            140.0,
            140.0,
            charged,
            discharged,
            3.3,
            3.31,
            0,
            0,
            None,
            0,
        )
        for s, soc, charged, discharged in readings
    ]
    await copy_rows(session, "rack_sample", RACK_SAMPLE_COLUMNS, RACK_SAMPLE_PG_TYPES, rows)
    await mark_dirty(session, {RACKS: [r.ts for r in rows]})
    await roll_up(session, now=LATER)
    balance = (
        await session.execute(
            text(
                "SELECT soc_pct_last, energy_charged_kwh_first, energy_charged_kwh_last, "
                "energy_charged_kwh_gain, energy_discharged_kwh_first, energy_discharged_kwh_last, "
                "energy_discharged_kwh_gain FROM rack_sample_1m WHERE rack_id = :r"
            ),
            {"r": rack_id},
        )
    ).one()
    # Charged rises 0.5 + 0.5, falls at the reset (adds nothing), then rises 0.5 (0.5 -> 1.0,
    # skipping the sample without SoC): 1.5. Discharged rises only after the reset: 0.25.
    assert tuple(balance) == pytest.approx((52.0, 100.0, 1.0, 1.5, 80.0, 0.25, 0.25))
