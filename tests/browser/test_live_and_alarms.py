"""Live updates reach an open page within 2 s, across app processes."""

import time
from datetime import UTC, datetime

from playwright.async_api import Browser, expect

from tests.browser.journey import journey_of
from tests.factories import DeviceSite
from tests.server import LiveServer, live_server
from tests.wire import batch, module_row, post_batch, string_row

LIVE_BUDGET_S = 2.0


async def test_a_new_sample_reaches_an_open_page_from_another_process(
    browser: Browser, server: LiveServer, browser_site: DeviceSite, test_database_url: str
) -> None:
    async with journey_of(browser, server, "operator") as journey:
        await journey.open_site(browser_site)
        await journey.page.wait_for_load_state("networkidle")
        strings = journey.page.locator("#strings-heading + table")
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
