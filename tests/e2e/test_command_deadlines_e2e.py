"""A real edge process whose clock is an hour behind, on the virtual CAN bus with its simulated
BMS: it refuses a command whose time ran out on the backend's clock, and still carries out a
fresh one (expiry travels as seconds left, counted on the edge's monotonic clock)."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.test_commands_e2e import send, wait_for_state
from tests.e2e.test_resilience import FAST_SIM, stop_edge
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.factories import committed_device_site
from tests.server import LiveServer

HOUR_BEHIND = "-3600"


async def queue(server: LiveServer, code: str, **request: Any) -> dict[str, Any]:
    """Queue a command over the API; the command as queued."""
    body = {"reason": "maintenance", "note": "e2e", **request}
    async with server.async_client() as client:
        queued = await client.post(f"/api/v1/sites/{code}/commands", json=body)
    assert queued.status_code == 201, queued.text
    answer: dict[str, Any] = queued.json()
    return answer


async def test_an_edge_with_its_clock_behind_refuses_a_stale_command(
    engine: AsyncEngine, server: LiveServer, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    stale = await queue(server, site.code, kind="derate", string=1, pct=30, expires_in_s=5)
    # The edge's poll took it, but the answer never reached the edge (it restarted): the
    # command stays with that device, and comes again on its next poll.
    edge_auth = {"Authorization": f"Bearer {site.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=edge_auth) as edge_client:
        taken = await edge_client.get("/api/v1/edge/commands")
    assert [c["id"] for c in taken.json()] == [stale["id"]]
    await asyncio.sleep(6)  # past its expiry on the backend's clock; an hour early on the edge's
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        simulator=f"{FAST_SIM}\nsetpoint_kw = 20",
    )
    env = edge_env(
        backend=server.url,
        token=site.token,
        spool=tmp_path / "spool.sqlite3",
        RIDETHROUGH_TEST_CLOCK_OFFSET_S=HOUR_BEHIND,
    )
    edge = start_edge(["simulate", "--config", str(site_file)], env, "tests.faults.skewed_clock")
    try:
        refused = await wait_for_state(server, site.code, stale["id"], "failed")
        assert refused["state"] == "failed", refused
        assert refused["result"]["detail"] == "expired before the edge could send it"
        await asyncio.sleep(3)  # its telemetry is flowing, for the fresh command's verification
        fresh = await send(server, site.code, kind="derate", string=2, pct=40)
        assert fresh["state"] == "verified", fresh["result"]
    finally:
        stop_edge(edge)
