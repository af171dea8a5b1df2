"""A database of the notification tests' own: their rules and workers touch no other test."""

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.db import drop_database, migrate, recreate_database

NOTIFY_DB = "ridethrough_notify_test"


@pytest.fixture(scope="module")
def notify_db() -> Iterator[str]:
    """A fresh migrated database for one test module."""
    url = recreate_database(NOTIFY_DB)
    migrate(url)
    yield url
    drop_database(NOTIFY_DB)


@pytest_asyncio.fixture(scope="module")
async def notify_engine(notify_db: str) -> AsyncIterator[AsyncEngine]:
    """An async engine on it."""
    engine = create_async_engine(notify_db, connect_args={"options": "-c timezone=UTC"})
    yield engine
    await engine.dispose()
