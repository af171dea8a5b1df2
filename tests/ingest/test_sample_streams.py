"""Encoded sample streams: string rows round trip, overlaps are counted, latest only moves on."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest.sample_store import (
    SampleStream,
    module_stream,
    rack_stream,
    upsert_latest,
    write_samples,
)
from app.sites.models import Rack
from app.telemetry.schemas import RACK_SAMPLE_COLUMNS, RackSampleRow
from tests.factories import make_site, module_ids, module_sample

T0 = datetime(2026, 11, 21, 12, 0, 0, 500_000, tzinfo=UTC)


def rack_sample(rack_id: int, ts: datetime, **overrides: object) -> RackSampleRow:
    """A string sample using every column type, some NULL; values exact in REAL."""
    row = RackSampleRow(
        rack_id,
        ts,
        843.25,
        -40.5,
        -34.125,
        55.5,
        97.75,
        True,
        16,
        0,
        5000.0,
        140.0,
        120.5,
        12345.678901,
        2**33 + 0.5,
        3.25,
        3.375,
        3,
        2**40 + 7,
        None,
        1,
    )
    return replace(row, **overrides)  # type: ignore[arg-type]


async def _rack_id(session: AsyncSession, site_id: int) -> int:
    return (await session.execute(select(Rack.id).where(Rack.site_id == site_id))).scalars().first()  # type: ignore[return-value]


async def test_string_rows_round_trip_every_column(session: AsyncSession) -> None:
    rack_id = await _rack_id(session, (await make_site(session)).site_id)
    written = [
        rack_sample(rack_id, T0),
        rack_sample(rack_id, T0 + timedelta(seconds=1), contactor_closed=None, disable_reason=2),
    ]
    assert await write_samples(session, rack_stream(written)) == [2]
    names = ", ".join(RACK_SAMPLE_COLUMNS)
    rows = await session.execute(
        text(f"SELECT {names} FROM rack_sample WHERE rack_id = :r ORDER BY ts"),  # noqa: S608
        {"r": rack_id},
    )
    assert [RackSampleRow(*row) for row in rows] == written


async def test_overlapping_samples_are_counted_and_kept_once(session: AsyncSession) -> None:
    module_id = (await module_ids(session, await make_site(session)))[0]
    first = [module_sample(module_id, T0 + timedelta(seconds=i), [3.3] * 16) for i in range(3)]
    more = [module_sample(module_id, T0 + timedelta(seconds=i), [3.4] * 16) for i in range(2, 5)]
    assert await write_samples(session, module_stream(first)) == [3]
    assert await write_samples(session, module_stream(more)) == [2]
    stored = await session.execute(
        text("SELECT ts, cell_v_max FROM module_sample WHERE module_id = :m ORDER BY ts"),
        {"m": module_id},
    )
    assert [round(v, 3) for _, v in stored] == [3.3, 3.3, 3.3, 3.4, 3.4]


async def store(session: AsyncSession, stream: SampleStream) -> None:
    """Write samples, then move the latest state, as ingest does."""
    await write_samples(session, stream)
    await upsert_latest(session, stream)


async def test_latest_state_moves_forward_only(session: AsyncSession) -> None:
    site = await make_site(session)
    module_id = (await module_ids(session, site))[0]
    rack_id = await _rack_id(session, site.site_id)
    newer = T0 + timedelta(minutes=1)
    await store(session, module_stream([module_sample(module_id, newer, [3.3] * 16)]))
    await store(session, rack_stream([rack_sample(rack_id, newer)]))
    # A late batch with an older sample and a newer one for two different assets.
    late = [module_sample(module_id, T0, [3.5] * 16)]
    await store(session, module_stream(late))
    await store(session, rack_stream([rack_sample(rack_id, T0, soc_pct=10.0)]))
    module = await session.execute(
        text("SELECT ts, cell_v_max FROM module_latest WHERE module_id = :m"), {"m": module_id}
    )
    rack = await session.execute(
        text("SELECT ts, soc_pct FROM rack_latest WHERE rack_id = :r"), {"r": rack_id}
    )
    assert [(ts, round(v, 3)) for ts, v in module] == [(newer, 3.3)]
    assert list(rack) == [(newer, 55.5)]
    newest = newer + timedelta(seconds=1)
    batch = [
        module_sample(module_id, newer, [3.3] * 16),
        module_sample(module_id, newest, [3.6] * 16),
    ]
    await store(session, module_stream(batch))
    module = await session.execute(
        text("SELECT ts, cell_v_max FROM module_latest WHERE module_id = :m"), {"m": module_id}
    )
    assert [(ts, round(v, 3)) for ts, v in module] == [(newest, 3.6)]
