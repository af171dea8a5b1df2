"""Fleet → site → string → module and back, only by clicking, at desktop and tablet size.

Every page reached has one h1 and its own breadcrumb: a link inside a live part of a page
navigates the page, it does not nest the next page inside the part.
"""

import pytest
from playwright.async_api import Browser, expect

from tests.browser.journey import start
from tests.factories import DeviceSite
from tests.server import LiveServer


@pytest.mark.parametrize("viewport", ["desktop", "tablet-portrait"])
async def test_drill_down_and_back_by_breadcrumb(
    browser: Browser, server: LiveServer, journey_site: DeviceSite, viewport: str
) -> None:
    journey = await start(browser, server, "operator", viewport)
    page, code, name = journey.page, journey_site.code, journey_site.name
    try:
        fleet_row = page.locator(f'#fleet_table tr[data-site="{code}"]')
        await fleet_row.get_by_role("link", name=name).click()
        await journey.at(name, crumbs=["Fleet", name], url=f"/sites/{code}$")

        # A heatmap cell (inside a live part) opens the module, not a page within the page.
        await page.get_by_role("link", name="SoC", exact=True).click()
        await expect(page.locator("#heatmap-heading")).to_have_text("Modules: SoC")
        await page.locator(".heatmap a.hm[title^='String 1 module 2:']").click()
        await journey.at("String 1, module 2", crumbs=["Fleet", name, "String 1", "Module 2"],
                         url=f"/sites/{code}/modules/\\d+$")  # fmt: skip

        await page.locator("nav.crumbs").get_by_role("link", name="String 1").click()
        await journey.at("String 1", crumbs=["Fleet", name, "String 1"],
                         url=f"/sites/{code}/strings/1$")  # fmt: skip
        await page.locator("#string_live").get_by_role("link", name="Module 3").click()
        await journey.at("String 1, module 3", crumbs=["Fleet", name, "String 1", "Module 3"],
                         url=f"/sites/{code}/modules/\\d+$")  # fmt: skip

        await page.locator("nav.crumbs").get_by_role("link", name=name).click()
        await journey.at(name, crumbs=["Fleet", name], url=f"/sites/{code}$")
        await page.locator(".heatmap").get_by_role("link", name="S2", exact=True).click()
        await journey.at("String 2", crumbs=["Fleet", name, "String 2"],
                         url=f"/sites/{code}/strings/2$")  # fmt: skip

        await page.locator("nav.crumbs").get_by_role("link", name=name).click()
        await journey.at(name, crumbs=["Fleet", name], url=f"/sites/{code}$")
        await page.locator("#site_map table").get_by_role("link", name="String 1").click()
        await journey.at("String 1", crumbs=["Fleet", name, "String 1"],
                         url=f"/sites/{code}/strings/1$")  # fmt: skip

        # An alarm's source link, inside the live alarm list, opens its module.
        await page.locator("nav.crumbs").get_by_role("link", name=name).click()
        await journey.at(name, crumbs=["Fleet", name], url=f"/sites/{code}$")
        await (
            page.locator("#site_alarms tr.alarm")
            .filter(has_text="Over-temperature")
            .get_by_role("link")
            .first.click()
        )
        await journey.at("String 1, module 3", crumbs=["Fleet", name, "String 1", "Module 3"],
                         url=f"/sites/{code}/modules/\\d+$")  # fmt: skip

        await page.locator("nav.crumbs").get_by_role("link", name="Fleet").click()
        await journey.at("Fleet", crumbs=None, url="/$")
        await page.locator("#mainnav").get_by_role("link", name="Alarms").click()
        await journey.at("Alarms", crumbs=None, url="/alarms$")
        await page.locator("#mainnav").get_by_role("link", name="KPIs").click()
        await journey.at("KPIs", crumbs=None, url="/kpis$")
        await page.go_back()
        await journey.at("Alarms", crumbs=None, url="/alarms$")
        journey.assert_clean()
    finally:
        await page.context.close()
