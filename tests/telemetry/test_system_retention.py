"""System samples age out with the other raw samples: retention drops their old chunks."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.telemetry.retention import apply_retention
from tests.factories import make_site


async def test_retention_drops_old_system_chunks_and_keeps_recent_ones(
    session: AsyncSession,
) -> None:
    site_id = (await make_site(session)).site_id
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=45), now - timedelta(hours=1)
    for ts in (old, recent):
        await session.execute(text("INSERT INTO system_sample (site_id, ts, soc_pct) "
                                   "VALUES (:s, :ts, 50)"), {"s": site_id, "ts": ts})  # fmt: skip
    result = await apply_retention(session, raw_age=timedelta(days=30),
                                   rollup_age=timedelta(days=730))  # fmt: skip
    assert result.dropped["system_sample"] >= 1
    left = await session.execute(text("SELECT ts FROM system_sample WHERE site_id = :s"),
                                 {"s": site_id})  # fmt: skip
    assert [row[0] for row in left] == [recent]
