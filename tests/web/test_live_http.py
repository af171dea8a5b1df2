"""The page event stream over real HTTP: a stream asks from when it needs changes, and gets
what happened since replayed, each event carrying the time of its change as its id."""

import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, full_site_rows, post_batch


@pytest.fixture
async def device_site(engine: AsyncEngine) -> DeviceSite:
    """A committed site with an edge device."""
    return await committed_device_site(engine)


def first_event(server: LiveServer, site: DeviceSite, **headers_and_params: str) -> list[str]:
    """The lines of the first event the stream sends (after its retry advice)."""
    params = {k: v for k, v in headers_and_params.items() if k != "last_event_id"}
    headers = {}
    if "last_event_id" in headers_and_params:
        headers["Last-Event-ID"] = headers_and_params["last_event_id"]
    with server.http.stream(
        "GET",
        "/live",
        params={"site": site.code, **params},
        headers=headers,
        timeout=httpx.Timeout(10.0),
    ) as stream:
        lines: list[str] = []
        for line in stream.iter_lines():
            if line.startswith("retry:") or line.startswith(":"):
                continue
            if line == "" and lines:
                return lines
            if line:
                lines.append(line)
    return lines


def test_a_stream_replays_what_changed_since_its_page(
    server: LiveServer, device_site: DeviceSite
) -> None:
    page_asked_ms = time.time_ns() // 1_000_000
    time.sleep(2.5)  # beyond the replay's slack: only what follows counts
    body = batch(device_site.code, 1, **full_site_rows(T0))
    assert post_batch(server, device_site.token, body).status_code == 200
    time.sleep(0.5)
    event = first_event(server, device_site, since=str(page_asked_ms))
    assert "event: telemetry" in event
    event_id = int(next(line for line in event if line.startswith("id: "))[4:])
    assert event_id > page_asked_ms

    # A browser reconnecting sends the id of the last event it saw; that wins over the page's
    # stamp (here one after the change, which alone would replay nothing).
    resumed = first_event(
        server, device_site, since=str(event_id + 60_000), last_event_id=str(page_asked_ms)
    )
    assert "event: telemetry" in resumed
