"""Stopping the backend ends open long polls and event streams cleanly, within the grace period."""

import asyncio
import signal
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import committed_device_site
from tests.server import live_server


async def test_sigterm_answers_waiting_long_polls_and_ends_event_streams(
    engine: AsyncEngine, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    log_path = tmp_path / "server.log"
    with (
        log_path.open("wb") as log,
        live_server({"RIDETHROUGH_DATABASE_URL": test_database_url}, log=log) as server,
    ):
        edge = httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {site.token}"}, timeout=60
        )
        async with edge, server.async_client("viewer") as browser:
            # A first, immediate poll opens the edge's connection before the long one is sent.
            assert (await edge.get("/api/v1/edge/commands")).json() == []
            poll = asyncio.create_task(edge.get("/api/v1/edge/commands", params={"wait": 30}))
            async with browser.stream("GET", "/live") as stream:
                chunks = stream.aiter_text()
                assert "retry:" in await anext(chunks)  # the stream is open and subscribed
                await asyncio.sleep(1.0)  # and the long poll is waiting on the hub
                assert not poll.done()
                server.process.send_signal(signal.SIGTERM)
                rest = [chunk async for chunk in chunks]  # returns once the server ends it
            answer = await poll
        returncode = await asyncio.to_thread(server.process.wait, 15)

    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    error = answer.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "shutting down" in error["message"]
    assert all("event:" not in chunk for chunk in rest)  # ended, not woken with a fake change
    # uvicorn re-raises the signal once it has shut down, so the exit is "killed by SIGTERM".
    assert returncode in (0, -signal.SIGTERM)
    output = log_path.read_text()
    assert "Application shutdown complete" in output
    # A waiter left open would have held the 5 s grace period and then been cancelled.
    assert "timeout graceful shutdown exceeded" not in output
    assert "Traceback" not in output
    assert "CancelledError" not in output
