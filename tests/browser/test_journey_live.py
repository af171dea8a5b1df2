"""Live parts: an update made while a page is being rendered still reaches it; a refresh keeps
the keyboard focus where it was; the keyboard crosses the heatmap in one step."""

import asyncio
from datetime import UTC, datetime

from playwright.async_api import Browser, Route, expect

from tests.browser.journey import Journey, journey_of
from tests.factories import DeviceSite
from tests.server import LiveServer
from tests.wire import batch, full_site_rows, post_batch

_seq = iter(range(100, 10_000))


def new_soc(server: LiveServer, site: DeviceSite, soc: float) -> None:
    """Every module and string of the site reports `soc` now, through the ingest API."""
    rows = full_site_rows(datetime.now(UTC))
    for row in rows["modules"] + rows["strings"]:
        row["soc_pct"] = soc
    assert post_batch(server, site.token, batch(site.code, next(_seq), **rows)).status_code == 200


async def focused_href(journey: Journey) -> str | None:
    """The href of the element that has the keyboard focus, if any."""
    href: str | None = await journey.page.evaluate(
        "document.activeElement && document.activeElement.getAttribute('href')"
    )
    return href


async def test_an_update_made_while_the_page_renders_reaches_it(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    site = journey_site
    held, release = asyncio.Event(), asyncio.Event()

    async def hold_the_stream(route: Route) -> None:
        held.set()
        await release.wait()
        await route.continue_()

    async with journey_of(browser, server, "operator") as journey:
        page = journey.page
        # The site page's event stream is held back, as a slow connection would: the change
        # lands after the page was rendered and before its stream is connected.
        await page.route(f"**/live?site={site.code}*", hold_the_stream)
        await journey.open_site(site)
        await asyncio.wait_for(held.wait(), 10)
        await expect(page.locator("#site_summary")).not_to_contain_text("66.6 %")
        new_soc(server, site, 66.6)
        await asyncio.sleep(1.0)  # the backend has told every open stream by now
        release.set()
        await expect(page.locator("#site_summary")).to_contain_text("66.6 %")


async def test_focus_stays_through_live_refreshes(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    site = journey_site
    async with journey_of(browser, server, "operator") as journey:
        page = journey.page
        row = page.locator(f'#fleet_table tr[data-site="{site.code}"]')
        await row.get_by_role("link").focus()
        new_soc(server, site, 61.0)
        await expect(row).to_contain_text("61 %")
        assert await focused_href(journey) == f"/sites/{site.code}"

        await page.keyboard.press("Enter")
        await journey.at(site.name, crumbs=["Fleet", site.name], url=f"/sites/{site.code}$")
        await page.get_by_role("link", name="SoC", exact=True).click()
        cell = page.locator(".heatmap a.hm").nth(4)
        href = await cell.get_attribute("href")
        await cell.focus()
        new_soc(server, site, 62.0)
        await expect(cell).to_have_attribute("title", "String 2 module 2: 62.0 %")
        assert await focused_href(journey) == href

        await page.locator("#site_map table").get_by_role("link", name="String 2").focus()
        new_soc(server, site, 63.0)
        await expect(page.locator("#site_map table")).to_contain_text("63.0 %")
        assert await focused_href(journey) == f"/sites/{site.code}/strings/2"


async def test_the_keyboard_skips_to_content_and_crosses_the_heatmap_in_one_step(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    async with journey_of(browser, server, "operator") as journey:
        page = journey.page
        await journey.open_site(journey_site)
        await page.keyboard.press("Tab")
        await expect(page.locator(":focus")).to_have_text("Skip to content")
        await page.keyboard.press("Enter")
        await expect(page.locator(":focus")).to_have_id("main")

        cells = page.locator(".heatmap a.hm")
        await page.locator(".heatmap .hm-label").first.focus()
        await page.keyboard.press("Tab")
        await expect(cells.first).to_be_focused()
        await page.keyboard.press("ArrowRight")
        await expect(cells.nth(1)).to_be_focused()
        await page.keyboard.press("ArrowDown")  # string 2, module 2: 3 modules a string
        await expect(cells.nth(4)).to_be_focused()
        await page.keyboard.press("End")
        await expect(cells.nth(5)).to_be_focused()
        # Tab leaves the grid: one stop per string label and one for the cells.
        await page.keyboard.press("Tab")
        focused_class = await page.evaluate("document.activeElement.className")
        assert "hm" not in focused_class.split()
