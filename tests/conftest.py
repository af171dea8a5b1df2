"""Shared fixtures: a migrated test database, per-test rolled-back sessions, a live backend."""

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from tests.db import drop_database, migrate, recreate_database
from tests.edge_process import kill_leftover_edges
from tests.server import LiveServer, live_server

TEST_DB = "ridethrough_test"


@pytest.fixture(scope="session")
def test_database_url() -> Iterator[str]:
    """A fresh database migrated to head, dropped after the session."""
    url = recreate_database(TEST_DB)
    migrate(url)
    yield url
    drop_database(TEST_DB)


@pytest_asyncio.fixture(scope="session")
async def engine(test_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An async engine on the test database."""
    engine = create_async_engine(test_database_url, connect_args={"options": "-c timezone=UTC"})
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        session = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture(scope="session")
def server(test_database_url: str) -> Iterator[LiveServer]:
    """A real backend process on the test database."""
    # Its tests post a few batches and look at the sites for minutes after: the watchdog would
    # rightly call those sites offline after 60 s and add alarms they do not expect. The
    # watchdog is tested with a backend of its own (tests/notifications/test_watchdog.py).
    env = {
        "RIDETHROUGH_DATABASE_URL": test_database_url,
        "RIDETHROUGH_WATCHDOG_DATA_AGE_S": str(7 * 86400),
    }
    with live_server(env) as running:
        yield running


@pytest.fixture(autouse=True)
def no_edge_outlives_its_test() -> Iterator[None]:
    """A failed test's edge processes are killed, not left to load the machine for the rest."""
    yield
    kill_leftover_edges()
