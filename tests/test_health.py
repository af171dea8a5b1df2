"""/healthz and /readyz over real HTTP, ready and not ready for each reason."""

from collections.abc import Iterator

import httpx
import pytest

from tests.db import drop_database, recreate_database
from tests.server import LiveServer, free_port, live_server


def test_healthz(server: LiveServer) -> None:
    response = server.http.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_migrated(server: LiveServer) -> None:
    response = server.http.get(f"{server.url}/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["timescaledb"]
    assert body["revision"]


@pytest.fixture
def unmigrated_db() -> Iterator[str]:
    """A database with timescaledb but no migrations applied."""
    yield recreate_database("ridethrough_unmigrated_test")
    drop_database("ridethrough_unmigrated_test")


@pytest.fixture
def plain_db() -> Iterator[str]:
    """A database without the timescaledb extension."""
    yield recreate_database("ridethrough_plain_test", timescaledb=False)
    drop_database("ridethrough_plain_test")


def not_ready_reasons(database_url: str) -> list[str]:
    """Start a backend on `database_url` and return its /readyz reasons (asserting 503)."""
    with live_server({"RIDETHROUGH_DATABASE_URL": database_url}) as running:
        response = httpx.get(f"{running.url}/readyz")
    assert response.status_code == 503, response.text
    assert response.json()["status"] == "not_ready"
    reasons: list[str] = response.json()["reasons"]
    return reasons


def test_readyz_without_migrations(unmigrated_db: str) -> None:
    reasons = not_ready_reasons(unmigrated_db)
    assert any("migrations not at head" in r for r in reasons), reasons


def test_readyz_without_timescaledb(plain_db: str) -> None:
    reasons = not_ready_reasons(plain_db)
    assert any("timescaledb extension is not installed" in r for r in reasons), reasons


def test_readyz_when_database_unreachable() -> None:
    url = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{free_port()}/nowhere"
    reasons = not_ready_reasons(url)
    assert any("database unreachable" in r for r in reasons), reasons
