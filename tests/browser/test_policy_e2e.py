"""Degrade, don't trip, end to end: a cell fault injected in the simulator is isolated by the
edge's own policy, recorded with its onset and contactor-feedback times, counted in mean time to
isolate, and returned to service by an operator from the browser; the other strings carry the
site's current throughout."""

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.journey import Journey, journey_of
from tests.db import psycopg_dsn
from tests.e2e.test_resilience import FAST_SIM, stop_edge
from tests.edge_process import (
    REFERENCE_MAPPING,
    REFERENCE_POLICY,
    edge_env,
    start_edge,
    write_site_file,
)
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer

FAULT = "cell_ov:string=2,module=2,cell=3,size=0.4,at=5"  # above 3.65 V alarm, below 3.75 V trip


def query(dsn: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one query on the test database."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


async def until_rows(dsn: str, sql: str, *params: Any, within: float = 20) -> list[tuple[Any, ...]]:
    """The query's rows once there are any (or none after `within` s)."""
    deadline = time.monotonic() + within
    rows = query(dsn, sql, *params)
    while not rows and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        rows = query(dsn, sql, *params)
    return rows


async def test_policy_isolates_a_fault_and_an_operator_returns_the_string(
    engine: AsyncEngine,
    server: LiveServer,
    test_database_url: str,
    tmp_path: Path,
    browser: Browser,
) -> None:
    site = await committed_device_site(engine, racks=3)
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        strings=3,
        simulator=f"{FAST_SIM}\nsetpoint_kw = 20",
        policy=REFERENCE_POLICY,
    )
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    started = datetime.now(UTC)
    edge = start_edge(["simulate", "--config", str(site_file), "--fault", FAULT], env)
    dsn = psycopg_dsn(test_database_url)
    try:
        (isolation,) = await until_rows(
            dsn,
            "SELECT r.index, i.isolated_by, i.reason, i.fault_code, i.onset_at, i.isolated_at, "
            "i.command_id FROM isolation i JOIN rack r ON r.id = i.rack_id "
            "WHERE i.site_id = %s AND i.isolated_by = 'edge_policy'",
            site.site_id,
        )
        string, _, reason, code, onset, isolated, command_id = isolation
        assert (string, reason, code) == (2, "fault", "cell_ov_alarm")
        assert command_id is not None
        # Onset is the fault frame, isolated_at the contactor-open frame: both from the BMS.
        assert started < onset < isolated
        assert (isolated - onset).total_seconds() < 1.0

        async with journey_of(browser, server, "operator") as journey:
            await journey.nav("KPIs")
            filters = journey.page.locator("form.filters")
            await filters.get_by_label("Site").select_option(site.code)
            await journey.at(f"KPIs {site.code}", crumbs=None, url="window=7d$")
            await filters.get_by_label("Window").select_option("24h")
            await journey.at(f"KPIs {site.code}", crumbs=None, url="window=24h$")
            mtti = journey.page.locator("#kpi-isolate")
            await expect(mtti).to_contain_text("1 fault isolations")
            await expect(mtti).to_contain_text("edge policy")
            verified = await return_string_from_the_browser(journey, server, site)
        assert verified["origin"] == "operator"
        assert verified["state"] == "verified", verified
        # The contactor-closed feedback arrives with the next telemetry batch.
        returned = await until_rows(
            dsn,
            "SELECT returned_at FROM isolation WHERE command_id = %s AND returned_at IS NOT NULL",
            command_id,
        )
        assert returned, "the isolation did not end when the string came back"
    finally:
        stop_edge(edge)
    policy_command = next(c for c in commands(server, site.code) if c["id"] == command_id)
    assert (policy_command["origin"], policy_command["state"]) == ("edge_policy", "verified")
    # Strings 1 and 3 carried current in every sample from the start to the end.
    carried = query(
        dsn,
        "SELECT r.index, count(*), count(*) FILTER (WHERE s.contactor_closed "
        "AND abs(s.current_a) > 1) FROM rack_sample s JOIN rack r ON r.id = s.rack_id "
        "WHERE r.site_id = %s AND r.index <> 2 GROUP BY r.index",
        site.site_id,
    )
    assert len(carried) == 2
    for index, samples, carrying in carried:
        assert samples > 5, index
        assert carrying == samples, f"string {index} stopped carrying current"


def commands(server: LiveServer, code: str) -> list[dict[str, Any]]:
    """The site's command list from the API."""
    listed: list[dict[str, Any]] = server.http.get(
        f"{server.url}/api/v1/sites/{code}/commands"
    ).json()["items"]
    return listed


async def return_string_from_the_browser(
    journey: Journey, server: LiveServer, site: DeviceSite
) -> dict[str, Any]:
    """Return string 2 through the two-step form; the command once it has settled."""
    page, code = journey.page, site.code
    await journey.nav("Fleet")
    await journey.open_site(site)
    await journey.open_string(site, 2)
    panel = page.locator(".command-panel details", has_text="Return to service")
    await panel.locator("summary").click()
    await panel.get_by_label("Reason").select_option("fault")
    await panel.get_by_label("Note").fill("cell 3 replaced, alarm reviewed")
    await panel.get_by_role("button", name="Review impact").click()
    answer = panel.locator(".command-answer")
    await answer.get_by_role("button", name="Confirm and send").click()
    await expect(answer).to_contain_text("queued")
    await expect(answer.locator(".command-state")).to_have_text("verified", timeout=15_000)
    deadline = time.monotonic() + 15
    while True:
        mine = [c for c in commands(server, code) if c["kind"] == "return_string"]
        if mine and mine[0]["state"] in ("verified", "failed", "expired"):
            return mine[0]
        assert time.monotonic() < deadline, mine
        await asyncio.sleep(0.2)
