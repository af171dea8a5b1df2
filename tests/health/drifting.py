"""A committed site with ten days of samples where one cell sags a little more each day,
ranked by the real health job: what the API, page and browser tests of the watch list read."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.health.job import COMPLETE_AFTER, utc_day
from app.jobs import health_once
from app.telemetry.repository import copy_module_samples
from tests.factories import DeviceSite, committed_device_site, module_sample

DAYS = 10
DRIFTING_CELL = 5  # of the site's first module


def cells(day: int, drifting: bool) -> list[float]:
    """A module's cells under load; the drifting one sags 3 mV more each day."""
    base = [3.25 + 0.001 * (i % 3) for i in range(16)]
    if drifting:
        base[DRIFTING_CELL - 1] -= 0.003 * day
    return base


async def site_with_a_drifting_cell(
    engine: AsyncEngine, site: DeviceSite | None = None
) -> tuple[DeviceSite, datetime]:
    """The site (a new one by default) and the last day the job ranked (yesterday)."""
    site = site or await committed_device_site(engine)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=DAYS + 1)
    rows = [
        module_sample(
            m,
            start + timedelta(days=d, hours=h),
            cells(d, m == site.module_ids[0]),
            current_a=100.0,
            balancing=0,
        )
        for d in range(DAYS)
        for h in range(1, 5)
        for m in site.module_ids
    ]
    async with AsyncSession(engine) as session, session.begin():
        await copy_module_samples(session, rows)
    await health_once(async_sessionmaker(engine))
    # the job ranks every complete day, the empty ones since the samples too
    return site, utc_day(datetime.now(UTC) - COMPLETE_AFTER) - timedelta(days=1)
