"""A site with ten minutes of telemetry (and its rollups) behind a live backend; API tokens."""

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.permissions import Access
from app.auth.tokens import create_token
from app.jobs import rollup_once
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, module_row, post_batch, string_row

STEP = timedelta(seconds=5)
SAMPLES = 120  # ten minutes at 5 s
STRINGS, MODULES = 2, 3


def soc_at(k: int, string: int, module: int) -> float:
    """A value that differs per sample and module, so a mix-up shows."""
    return round(40.0 + 0.1 * k + string + module / 10, 2)


@dataclass(frozen=True)
class Recorded:
    """A committed site with telemetry from T0 for SAMPLES steps, and one standing alarm."""

    site: DeviceSite
    start: datetime
    end: datetime


@pytest.fixture
async def recorded(engine: AsyncEngine, server: LiveServer) -> Recorded:
    """Post the telemetry through the ingest endpoint, then bring the rollups up to date."""
    site = await committed_device_site(engine, racks=STRINGS)
    for seq, first in enumerate(range(0, SAMPLES, 30), start=1):
        times = [(k, T0 + k * STEP) for k in range(first, first + 30)]
        modules = [
            module_row(s, m, ts, soc_pct=soc_at(k, s, m))
            for k, ts in times
            for s in range(1, STRINGS + 1)
            for m in range(1, MODULES + 1)
        ]
        strings = [
            string_row(s, ts, current_a=-30.0 + k) for k, ts in times for s in range(1, STRINGS + 1)
        ]
        body = batch(site.code, seq, modules=modules, strings=strings)
        if seq == 1:
            body["events"] = [event("fault_raised", 1, 1, 2, "cell_ov_warning")]
        answer = post_batch(server, site.token, body)
        assert answer.status_code == 200, answer.text
    await rollup_once(async_sessionmaker(engine))
    return Recorded(site, T0, T0 + SAMPLES * STEP)


TOKEN_NUMBERS = itertools.count(1)  # unique names across the test session
TokenMaker = Callable[..., Awaitable[str]]


@pytest.fixture
def make_token(engine: AsyncEngine) -> TokenMaker:
    """Create an API token: make_token(access, sites=[codes] or None, days=1)."""

    async def create(access: str, sites: list[str] | None = None, days: int = 1) -> str:
        async with AsyncSession(engine) as session, session.begin():
            name = f"test-token-{next(TOKEN_NUMBERS)}"
            return await create_token(
                session,
                name=name,
                access=Access(access),
                site_codes=sites,
                days=days,
                created_by="test",
                now=datetime.now(UTC),
            )

    return create
