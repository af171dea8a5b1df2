"""Live updates reach an open page within 2 s, across app processes; alarms are acknowledged."""

import time
from datetime import UTC, datetime

import psycopg
from playwright.async_api import expect

from tests.browser.conftest import Watched
from tests.db import psycopg_dsn
from tests.factories import DeviceSite
from tests.server import LiveServer, live_server
from tests.wire import batch, module_row, post_batch, string_row

LIVE_BUDGET_S = 2.0


async def test_a_new_sample_reaches_an_open_page_from_another_process(
    watched: Watched, server: LiveServer, browser_site: DeviceSite, test_database_url: str
) -> None:
    page = watched.page
    await page.goto(f"{server.url}/sites/{browser_site.code}")
    await page.wait_for_load_state("networkidle")
    strings = page.locator("#strings-heading + table")
    await expect(strings).not_to_contain_text("77.7")
    # The sample goes in through a second backend process; the page listens to the first.
    with live_server({"RIDETHROUGH_DATABASE_URL": test_database_url}) as other:
        now = datetime.now(UTC)
        body = batch(
            browser_site.code,
            2,
            modules=[module_row(1, 1, now)],
            strings=[string_row(1, now, soc_pct=77.7)],
        )
        sent = time.monotonic()
        response = post_batch(other, browser_site.token, body)
        assert response.status_code == 200, response.text
        await expect(strings).to_contain_text("77.7 %", timeout=LIVE_BUDGET_S * 1000)
        assert time.monotonic() - sent < LIVE_BUDGET_S
    assert watched.errors == []


async def test_an_alarm_is_acknowledged_with_a_note_from_the_browser(
    watched: Watched, server: LiveServer, browser_site: DeviceSite, test_database_url: str
) -> None:
    page = watched.page
    await page.goto(f"{server.url}/alarms?site={browser_site.code}")
    row = page.locator("tr.alarm").first
    await expect(row).to_contain_text("Unacknowledged")
    await row.get_by_placeholder("Note (optional)").fill("Cell 3 high after top-up charge")
    await row.get_by_role("button", name="Acknowledge").click()
    await expect(page.locator("tr.alarm").first).to_contain_text("Acknowledged")
    await expect(page.locator("tr.alarm").first).to_contain_text("Cell 3 high after top-up charge")
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        stored = conn.execute(
            "SELECT state, ack_note FROM alarm WHERE site_id = %s", (browser_site.site_id,)
        ).fetchone()
    assert stored == ("acked", "Cell 3 high after top-up charge")
    assert watched.errors == []
