"""Commands as an operator sends them, by clicking: derate, isolate and return a string of a
site whose simulated BMS answers through a real edge, each followed to its end on the page
that sent it and on a second open page; cancel one nobody has picked up; a refusal is shown
where the action was, with what would make it possible."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.journey import journey_of
from tests.commands.test_command_deadlines_http import sql
from tests.e2e.test_resilience import FAST_SIM, stop_edge
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import batch, full_site_rows, post_batch

COMMAND_END_MS = 30_000  # queued → sent → acked → verified, on a loaded two-core machine


@pytest.fixture
async def edge_site(
    engine: AsyncEngine, server: LiveServer, tmp_path: Path
) -> AsyncIterator[DeviceSite]:
    """A three-string site streaming from a simulated BMS through a real edge process."""
    site = await committed_device_site(engine, racks=3, name="Command Site")
    site_file = write_site_file(
        tmp_path,
        code=site.code,
        mapping=REFERENCE_MAPPING,
        strings=3,
        simulator=f"{FAST_SIM}\nsetpoint_kw = 20",
    )
    env = edge_env(backend=server.url, token=site.token, spool=tmp_path / "spool.sqlite3")
    edge = start_edge(["simulate", "--config", str(site_file)], env)
    try:
        yield site
    finally:
        stop_edge(edge)


async def review(page: Page, action: str, note: str, **fields: str) -> Locator:
    """Open a command form, fill it, ask for the impact; the form's answer area."""
    panel = page.locator(".command-panel details").filter(has_text=action)
    await panel.locator("summary").click()
    for label, value in fields.items():
        control = panel.get_by_label(label.replace("_", " "), exact=False)
        if await control.evaluate("e => e.tagName") == "SELECT":
            await control.select_option(value)
        else:
            await control.fill(value)
    await panel.get_by_label("Note").fill(note)
    await panel.get_by_role("button", name="Review impact").click()
    return panel.locator(".command-answer")


async def send_and_follow(answer: Locator, second: Page, kind: str) -> None:
    """Confirm; the command's state reaches 'verified' here and in the second page's list."""
    await answer.get_by_role("button", name="Confirm and send").click()
    status = answer.locator(".command-status")
    await expect(status).to_contain_text("queued")  # at once, before the edge has it
    await expect(status.locator(".command-state")).to_have_text("verified", timeout=COMMAND_END_MS)
    row = second.locator("#site_commands tr.command").filter(has_text=kind).first
    await expect(row.locator(".command-state")).to_have_text("verified", timeout=COMMAND_END_MS)


async def test_derate_isolate_and_return_reach_their_end(
    browser: Browser, server: LiveServer, edge_site: DeviceSite
) -> None:
    async with (
        journey_of(browser, server, "operator") as journey,
        journey_of(browser, server, "operator") as watcher,
    ):
        page, second = journey.page, watcher.page
        await watcher.open_site(edge_site)
        await journey.open_site(edge_site)
        await journey.open_string(edge_site, 2)
        live = page.locator("#string_live")
        await expect(live).to_contain_text("140 / 140 A", timeout=COMMAND_END_MS)

        answer = await review(page, "Derate this string", "cell 5 warm, derate", Limit_to="30")
        await expect(answer.locator(".impact")).to_contain_text("capacity online 100 % → 77 %")
        await send_and_follow(answer, second, "derate")
        await expect(live).to_contain_text("42 / 42 A")

        answer = await review(page, "Isolate this string", "replace fuse", Reason="maintenance")
        await expect(answer.locator(".impact")).to_contain_text("2 of 3 strings online")
        await send_and_follow(answer, second, "isolate string")
        await expect(live.locator(".contactor")).to_have_text("open")

        answer = await review(page, "Return to service", "fuse replaced", Reason="maintenance")
        await expect(answer.locator(".impact")).to_contain_text("capacity online 67 % → 100 %")
        await send_and_follow(answer, second, "return string")
        # Back in full service: closed, and the derate lifted with it.
        await expect(live.locator(".contactor")).to_have_text("closed")
        await expect(live).to_contain_text("140 / 140 A")


@pytest.fixture
async def quiet_site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A site with data but no edge polling: what is queued stays queued. String 2 is open."""
    site = await committed_device_site(engine, name="Quiet Site")
    rows = full_site_rows(datetime.now(UTC) - timedelta(seconds=2))
    rows["strings"][1].update(contactor_closed=False, current_a=0.0)
    assert post_batch(server, site.token, batch(site.code, 1, **rows)).status_code == 200
    return site


async def test_cancel_a_queued_command_and_see_a_refusal_in_place(
    browser: Browser, server: LiveServer, quiet_site: DeviceSite
) -> None:
    site = quiet_site
    async with journey_of(browser, server, "operator") as journey:
        page = journey.page
        await journey.open_site(site)
        answer = await review(page, "Derate the site", "grid request", Limit_to="80")
        await answer.get_by_role("button", name="Confirm and send").click()
        status = answer.locator(".command-status")
        await expect(status.locator(".command-state")).to_have_text("queued")
        await status.get_by_role("button", name="Cancel command").click()
        await expect(status.locator(".command-state")).to_have_text("cancelled")
        row = page.locator("#site_commands tr.command").first
        await expect(row.locator(".command-state")).to_have_text("cancelled")

        # String 1 is the only one closed: isolating it is refused in the preview, in place,
        # with the way out, and nothing can be confirmed.
        await journey.open_string(site, 1)
        journey.expected_statuses.add(409)
        answer = await review(page, "Isolate this string", "swap module", Reason="maintenance")
        await expect(answer.locator(".refusal")).to_contain_text("last connected string")
        await expect(answer.locator(".remedy")).to_contain_text(
            "return another string to service first"
        )
        await expect(answer.get_by_role("button", name="Confirm and send")).to_have_count(0)
        await expect(page.locator("#flash")).to_have_count(0)


async def take_as_the_edge(server: LiveServer, site: DeviceSite) -> None:
    """The site's edge polls and takes what is queued, then is never heard of again."""
    async with httpx.AsyncClient(base_url=server.url) as edge:
        taken = await edge.get(
            "/api/v1/edge/commands", headers={"Authorization": f"Bearer {site.token}"}
        )
    assert taken.json(), taken.text


async def test_a_stuck_command_ends_in_plain_words_or_is_cleared_with_a_reason(
    browser: Browser, server: LiveServer, quiet_site: DeviceSite, test_database_url: str
) -> None:
    site = quiet_site
    async with journey_of(browser, server, "operator") as journey:
        page = journey.page
        await journey.open_site(site)
        answer = await review(page, "Derate the site", "grid request", Limit_to="80")
        await answer.get_by_role("button", name="Confirm and send").click()
        status = answer.locator(".command-status")
        await expect(status.locator(".command-state")).to_have_text("queued")
        first = int((await status.get_attribute("id") or "").removeprefix("command-"))
        await take_as_the_edge(server, site)
        await expect(status).to_contain_text("Outcome unknown unless reported in")
        # The edge never reports; the backend's deadline for it passes.
        sql(test_database_url, "UPDATE command SET deadline_at = now() WHERE id = %s", first)
        await expect(status.locator(".command-state")).to_have_text("outcome unknown")
        await expect(status).to_contain_text("may or may not have been carried out")

        # A second one, sent by another operator and taken by the edge, is cleared from the
        # site's command list before its deadline.
        request = {"kind": "derate", "pct": 70, "reason": "external", "note": "grid request"}
        async with server.async_client() as client:
            second = await client.post(f"/api/v1/sites/{site.code}/commands", json=request)
        await take_as_the_edge(server, site)
        row = page.locator(f'#site_commands tr[data-command="{second.json()["id"]}"]')
        await expect(row.locator(".command-state")).to_have_text("sent")
        await row.get_by_role("link", name="Clear…").click()
        await expect(page.locator("h1")).to_contain_text(f"Command #{second.json()['id']}")
        await page.get_by_label("Reason").fill("edge replaced; command void")
        await page.get_by_role("button", name=re.compile("Clear command")).click()
        mine = page.locator(".command-status")
        await expect(mine.locator(".command-state")).to_have_text("cleared by an operator")
        await expect(mine).to_contain_text("“edge replaced; command void”")
