"""Commands end to end: HTTP → backend → edge long-poll → CAN frame → simulated BMS → ACK →
telemetry → verified; the rest of the site keeps carrying current throughout."""

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.e2e.test_resilience import FAST_SIM, stop_edge
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.factories import committed_device_site
from tests.server import LiveServer

SETTLE_S = 15.0


async def wait_for_state(
    server: LiveServer, code: str, command_id: int, wanted: str
) -> dict[str, Any]:
    """Poll the command list until the command reaches `wanted` (or a final state)."""
    deadline = time.monotonic() + SETTLE_S
    async with server.async_client() as client:
        while True:
            listed = (await client.get(f"/api/v1/sites/{code}/commands")).json()["items"]
            command: dict[str, Any] = next(c for c in listed if c["id"] == command_id)
            if command["state"] in (wanted, "failed", "expired") or time.monotonic() > deadline:
                return command
            await asyncio.sleep(0.1)


def strings_now(dsn: str, site_id: int) -> dict[int, tuple[bool, float]]:
    """Each string's latest contactor state and current."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT r.index, l.contactor_closed, l.current_a FROM rack r "
            "JOIN rack_latest l ON l.rack_id = r.id WHERE r.site_id = %s",
            (site_id,),
        ).fetchall()
    return {index: (closed, current) for index, closed, current in rows}


async def stored_state(
    dsn: str, site_id: int, ready: Callable[[dict[int, tuple[bool, float]]], bool]
) -> dict[int, tuple[bool, float]]:
    """The strings' stored state once `ready` holds (or after a few seconds)."""
    deadline = time.monotonic() + 5
    state = strings_now(dsn, site_id)
    while not ready(state) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        state = strings_now(dsn, site_id)
    return state


async def flowing(dsn: str, site_id: int, strings: int) -> None:
    """Wait until every string's telemetry is stored with its contactor closed.

    The edge starts as a separate process; on a loaded machine its first batch can take
    several seconds, and a command judged before then would meet a site with no strings.
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = strings_now(dsn, site_id)
        if len(state) == strings and all(closed for closed, _ in state.values()):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no telemetry with every string closed: {strings_now(dsn, site_id)}")


async def send(server: LiveServer, code: str, **request: Any) -> dict[str, Any]:
    """Queue a command over the API and wait until it has settled."""
    body = {"reason": "fault", "note": "e2e", **request}
    async with server.async_client() as client:
        queued = await client.post(f"{server.url}/api/v1/sites/{code}/commands", json=body)
    assert queued.status_code == 201, queued.text
    return await wait_for_state(server, code, queued.json()["id"], "verified")


def limits_now(dsn: str, site_id: int, index: int) -> tuple[float, float]:
    """A string's latest stored charge and discharge limits."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT l.charge_limit_a, l.discharge_limit_a FROM rack r "
            "JOIN rack_latest l ON l.rack_id = r.id WHERE r.site_id = %s AND r.index = %s",
            (site_id, index),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


async def stored_limits(
    dsn: str, site_id: int, index: int, wanted: tuple[float, float]
) -> tuple[float, float]:
    """A string's stored limits once they are `wanted` (or after a few seconds)."""
    deadline = time.monotonic() + 5
    limits = limits_now(dsn, site_id, index)
    while limits != wanted and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        limits = limits_now(dsn, site_id, index)
    return limits


async def test_isolate_and_return_a_string_through_the_real_path(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine, racks=3)
    # A light, steady discharge: the interlocks must let one of three strings go at any hour.
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        strings=3,
        simulator=f"{FAST_SIM}\nsetpoint_kw = 20",
    )
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    edge = start_edge(["simulate", "--config", str(site_file)], env)
    dsn = psycopg_dsn(test_database_url)
    try:
        await flowing(dsn, site.site_id, strings=3)
        # String 2 is derated to 30 % (42 of 140 A) until further notice, then taken out.
        derated = await send(server, site.code, kind="derate", string=2, pct=30)
        assert derated["state"] == "verified", derated["result"]
        isolated = await send(server, site.code, kind="isolate_string", string=2)
        assert isolated["state"] == "verified", isolated["result"]
        assert isolated["result"]["verified_by"].startswith("contactor open")
        # Verified from the BMS frames the edge read after the ACK; the stored telemetry follows.
        state = await stored_state(dsn, site.site_id, lambda s: s[2][0] is False)
        assert state[2][0] is False
        assert state[1][0]  # the rest of the site stays connected
        assert state[3][0]
        assert await stored_limits(dsn, site.site_id, 2, (42.0, 42.0)) == (42.0, 42.0)

        # Back in service is back in full service: the derate goes with the isolation.
        done = await send(server, site.code, kind="return_string", string=2, note="repaired")
        assert done["state"] == "verified", done["result"]
        assert done["result"]["verified_by"].startswith(
            "contactor closed, limits at rating (140 A charge, 140 A discharge)"
        )
        state = await stored_state(dsn, site.site_id, lambda s: s[2][0] is True)
        assert state[2][0] is True
        assert await stored_limits(dsn, site.site_id, 2, (140.0, 140.0)) == (140.0, 140.0)
    finally:
        output = stop_edge(edge)
    with psycopg.connect(dsn) as conn:
        isolation = conn.execute(
            "SELECT reason, isolated_by, command_id IS NOT NULL, onset_at <= isolated_at, "
            "returned_at IS NOT NULL FROM isolation "
            "WHERE site_id = %s",
            (site.site_id,),
        ).fetchall()
    assert isolation == [("fault", "operator", True, True, True)], output


async def test_bypass_and_return_a_module_is_an_isolation_through_the_real_path(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine)
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        simulator=f"{FAST_SIM}\nsetpoint_kw = 20",
    )
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    edge = start_edge(["simulate", "--config", str(site_file)], env)
    commands = f"{server.url}/api/v1/sites/{site.code}/commands"
    try:
        await flowing(psycopg_dsn(test_database_url), site.site_id, strings=2)
        for kind in ("isolate_module", "return_module"):
            request = {
                "kind": kind,
                "string": 1,
                "module": 2,
                "reason": "maintenance",
                "note": "e2e",
            }
            async with server.async_client() as client:
                queued = await client.post(commands, json=request)
            assert queued.status_code == 201, queued.text
            done = await wait_for_state(server, site.code, queued.json()["id"], "verified")
            assert done["state"] == "verified", done["result"]
        await asyncio.sleep(3)  # the bypass feedback's samples reach the backend
    finally:
        output = stop_edge(edge)
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        isolation = conn.execute(
            "SELECT r.index, m.position, i.reason, i.isolated_by, i.command_id IS NOT NULL, "
            "i.onset_at <= i.isolated_at, i.returned_at > i.isolated_at FROM isolation i "
            "JOIN rack r ON r.id = i.rack_id JOIN module m ON m.id = i.module_id "
            "WHERE i.site_id = %s",
            (site.site_id,),
        ).fetchall()
    assert isolation == [(1, 2, "maintenance", "operator", True, True, True)], output


def preview(server: LiveServer, code: str, form: dict[str, str]) -> httpx.Response:
    """The confirmation step the string page's form asks for."""
    return server.http.post(
        f"{server.url}/sites/{code}/commands/preview", data=form, headers={"HX-Request": "true"}
    )


async def test_a_refused_isolation_goes_through_once_its_remedy_is_followed(
    engine: AsyncEngine, server: LiveServer, test_database_url: str, tmp_path: Path
) -> None:
    site = await committed_device_site(engine, racks=3)
    # 50 kW of discharge on three ~157 V strings: about 106 A each, 318 A in all, more than the
    # 2 x 140 A - 1 A = 279 A two strings may carry; their own 212 A would fit.
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        strings=3,
        simulator=f"{FAST_SIM}\nsetpoint_kw = 50",
    )
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    edge = start_edge(["simulate", "--config", str(site_file)], env)
    dsn = psycopg_dsn(test_database_url)
    form = {"kind": "isolate_string", "string": "1", "reason": "maintenance", "note": "e2e"}
    try:
        await flowing(dsn, site.site_id, strings=3)
        refused = preview(server, site.code, form)
        assert refused.status_code == 409, refused.text
        assert "Confirm and send" not in refused.text
        remedy = re.search(
            r'<span class="remedy">To make it possible, ([^<]*)\.</span>', refused.text
        )
        assert remedy is not None, refused.text
        assert remedy[1].startswith("derate string 1 to 0 % first"), remedy[1]

        derated = await send(server, site.code, kind="derate", string=1, pct=0)
        assert derated["state"] == "verified", derated["result"]
        # The preview judges the stored telemetry: wait for string 1's current to be stored.
        await stored_state(dsn, site.site_id, lambda s: abs(s[1][1]) < 1.0)
        allowed = preview(server, site.code, form)
        assert allowed.status_code == 200, allowed.text
        assert "Confirm and send" in allowed.text
        sent = server.http.post(
            f"{server.url}/sites/{site.code}/commands/send",
            data=form,
            headers={"HX-Request": "true"},
        )
        queued = re.search(r"Command #(\d+) queued", sent.text)
        assert queued is not None, sent.text
        isolated = await wait_for_state(server, site.code, int(queued[1]), "verified")
        assert isolated["state"] == "verified", isolated["result"]
        state = await stored_state(dsn, site.site_id, lambda s: s[1][0] is False)
    finally:
        output = stop_edge(edge)
    assert state[1][0] is False, output
    for other in (2, 3):  # the other two carry the site on
        closed, current = state[other]
        assert closed
        assert abs(current) > 1.0
