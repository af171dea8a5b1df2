"""From `/` to the battery health page by clicking, and from its top cell to that module."""

import re

from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.journey import journey_of
from tests.factories import DeviceSite
from tests.health.drifting import DRIFTING_CELL, site_with_a_drifting_cell
from tests.server import LiveServer


async def test_an_operator_finds_the_drifting_cell_and_its_module(
    browser: Browser, server: LiveServer, journey_site: DeviceSite, engine: AsyncEngine
) -> None:
    site, _ = await site_with_a_drifting_cell(engine, journey_site)
    async with journey_of(browser, server, "viewer") as journey:
        page = journey.page
        await journey.open_site(site)
        await page.locator("#main").get_by_role("link", name="Battery health").click()
        await journey.at(
            "Battery health",
            crumbs=["Fleet", site.name, "Battery health"],
            url=f"/sites/{site.code}/health$",
        )
        first = page.locator("#watchlist tbody tr").first
        await expect(first).to_contain_text(f"module 1 · cell {DRIFTING_CELL}")
        await expect(first).to_contain_text("above the alarm level")
        # the evidence: the cell 27 mV below its module's median while discharging
        await expect(first.locator("td.offsets")).to_contain_text("-27 mV")
        evidence = first.get_by_role("img", name=re.compile("minus its module's median"))
        await expect(evidence).to_be_visible()
        await expect(page.locator("#health-definitions dt")).to_have_count(10)
        await first.get_by_role("link").click()
        await journey.at(
            "module 1",
            crumbs=["Fleet", site.name, "String 1", "Module 1"],
            url=f"/sites/{site.code}/modules/{site.module_ids[0]}$",
        )


async def test_an_operator_finds_the_fleets_weak_cells_and_their_site(
    browser: Browser, server: LiveServer, journey_site: DeviceSite, engine: AsyncEngine
) -> None:
    site, _ = await site_with_a_drifting_cell(engine, journey_site)
    async with journey_of(browser, server, "viewer") as journey:
        page = journey.page
        await page.locator("#main").get_by_role("link", name="Battery health").click()
        await journey.at("Battery health", crumbs=["Fleet", "Battery health"], url="/health$")
        row = page.locator("#fleet-watchlist tbody tr").filter(has_text=site.name).first
        await expect(row).to_contain_text(f"module 1 · cell {DRIFTING_CELL}")
        await row.get_by_role("link", name=site.name).click()
        await journey.at(
            "Battery health",
            crumbs=["Fleet", site.name, "Battery health"],
            url=f"/sites/{site.code}/health$",
        )
