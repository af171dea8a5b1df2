"""Fleet → site → string → module and back, only by clicking, at desktop and tablet size.

Every page reached has one h1 and its own breadcrumb: a link inside a live part of a page
navigates the page, it does not nest the next page inside the part.
"""

import pytest
from playwright.async_api import Browser, expect

from tests.browser.journey import journey_of
from tests.factories import DeviceSite
from tests.server import LiveServer

MODULE_URL = "/modules/\\d+$"


@pytest.mark.parametrize("viewport", ["desktop", "tablet-portrait"])
async def test_drill_down_and_back_by_breadcrumb(
    browser: Browser, server: LiveServer, journey_site: DeviceSite, viewport: str
) -> None:
    site, name = journey_site, journey_site.name
    async with journey_of(browser, server, "operator", viewport) as journey:
        page = journey.page
        await journey.open_site(site)

        # A heatmap cell (inside a live part) opens the module, not a page within the page.
        await page.get_by_role("link", name="SoC", exact=True).click()
        await expect(page.locator("#heatmap-heading")).to_have_text("Modules: SoC")
        await page.locator(".heatmap a.hm[title^='String 1 module 2:']").click()
        crumbs = ["Fleet", name, "String 1", "Module 2"]
        await journey.at("String 1, module 2", crumbs=crumbs, url=MODULE_URL)

        await page.locator("nav.crumbs").get_by_role("link", name="String 1").click()
        await journey.at("String 1", crumbs=["Fleet", name, "String 1"], url="/strings/1$")
        await page.locator("#string_live").get_by_role("link", name="Module 3").click()
        crumbs = ["Fleet", name, "String 1", "Module 3"]
        await journey.at("String 1, module 3", crumbs=crumbs, url=MODULE_URL)

        await journey.back_to_site(site)
        await page.locator(".heatmap").get_by_role("link", name="S2", exact=True).click()
        await journey.at("String 2", crumbs=["Fleet", name, "String 2"], url="/strings/2$")

        await journey.back_to_site(site)
        await journey.open_string(site, 1)

        # An alarm's source link, inside the live alarm list, opens its module.
        await journey.back_to_site(site)
        alarm = page.locator("#site_alarms tr.alarm").filter(has_text="over-temperature alarm")
        await alarm.get_by_role("link").first.click()
        await journey.at("String 1, module 3", crumbs=crumbs, url=MODULE_URL)

        await page.locator("nav.crumbs").get_by_role("link", name="Fleet").click()
        await journey.at("Fleet", crumbs=None, url="/$")
        await journey.nav("Alarms")
        await journey.nav("KPIs")
        await page.go_back()
        await journey.at("Alarms", crumbs=None, url="/alarms$")
