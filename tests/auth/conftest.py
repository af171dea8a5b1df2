"""A second backend behind a (pretend) reverse proxy on loopback, with short live-stream timings.

The tests speak to it as a proxy would, naming the client in X-Forwarded-For, so sign-in attempts
come from as many addresses as a test needs; its streams check their session every half second.
"""

from collections.abc import Iterator

import pytest

from tests.server import LiveServer, live_server

LIVE_STREAMS_PER_USER = 3


@pytest.fixture(scope="session")
def proxied(test_database_url: str) -> Iterator[LiveServer]:
    """A backend that trusts 127.0.0.1 as its reverse proxy."""
    env = {
        "RIDETHROUGH_DATABASE_URL": test_database_url,
        "RIDETHROUGH_TRUSTED_PROXIES": "127.0.0.1",
        "RIDETHROUGH_LIVE_HEARTBEAT_S": "0.5",
        "RIDETHROUGH_LIVE_STREAMS_PER_USER": str(LIVE_STREAMS_PER_USER),
    }
    with live_server(env) as running:
        yield running
