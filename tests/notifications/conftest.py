"""A database of the notification tests' own: their rules and workers touch no other test."""

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.db import drop_database, migrate, recreate_database
from tests.notifications.receivers import Mailbox, smtp_server
from tests.server import LiveServer, live_server

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


@pytest.fixture(scope="module")
def mail_sink() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server for the module's backend."""
    with smtp_server() as sink:
        yield sink


@pytest.fixture(scope="module")
def notify_server(notify_db: str, mail_sink: tuple[Mailbox, int]) -> Iterator[LiveServer]:
    """A backend on the module's database that mails the module's SMTP server."""
    env = {
        "RIDETHROUGH_DATABASE_URL": notify_db,
        "RIDETHROUGH_SMTP_PORT": str(mail_sink[1]),
        "RIDETHROUGH_NOTIFY_INTERVAL_S": "0.2",
        "RIDETHROUGH_WATCHDOG_INTERVAL_S": "3600",
    }
    with live_server(env) as running:
        yield running
