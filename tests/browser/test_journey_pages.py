"""Every screen, reached by clicking, renders cleanly at desktop and tablet size: nothing
scrolls sideways, the trend charts are drawn, and nothing goes wrong on the way."""

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import VIEWPORTS
from tests.browser.journey import Journey, start
from tests.factories import DeviceSite
from tests.server import LiveServer


async def fits(journey: Journey, name: str, charts: int = 0) -> None:
    """The page does not scroll sideways, and its charts (if any) are drawn."""
    page = journey.page
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px"
    if charts:
        await page.wait_for_selector("[data-trend][data-loaded]")
        await expect(page.locator(".chart canvas")).to_have_count(charts)


# The time axis of a chart, asked for 13:05 (in the browser's time zone) on a one-day scale.
TICK_AT_1305 = """() => {
  const u = document.querySelector('.plot')._chart;
  const t = new Date(2026, 0, 2, 13, 5).getTime() / 1000;
  u.setScale('x', { min: t - 43200, max: t + 43200 });
  return u.axes[0].values(u, [t])[0];
}"""


async def charts_read_well(journey: Journey) -> None:
    """The charts open on data, read the hovered value, and tell time on a 24-hour clock."""
    page = journey.page
    first = page.locator("figure.chart").first
    assert int(await first.get_attribute("data-points") or 0) > 0  # the default range has data
    box = await first.locator(".u-over").bounding_box()
    assert box is not None
    values = first.locator(".u-legend .u-value")
    shown = []
    for step in range(1, 40):
        await page.mouse.move(box["x"] + box["width"] * step / 40, box["y"] + box["height"] / 2)
        shown.append(await values.nth(1).inner_text())
        if re.fullmatch(r"-?\d+\.\d \S+", shown[-1]):
            break
    else:
        raise AssertionError(f"no value under the cursor: {shown}")
    assert await page.evaluate(TICK_AT_1305) == "13:05"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_every_screen_renders_cleanly(
    browser: Browser, server: LiveServer, journey_site: DeviceSite, viewport: str
) -> None:
    journey = await start(browser, server, "operator", viewport)
    page, site, name = journey.page, journey_site, journey_site.name
    try:
        await fits(journey, "fleet")
        await page.locator(f'#fleet_table tr[data-site="{site.code}"]').get_by_role("link").click()
        await journey.at(name, crumbs=["Fleet", name], url=f"/sites/{site.code}$")
        assert await page.title() == f"{name} · Ridethrough"  # the name as text, not markup
        await fits(journey, "site")
        await page.get_by_role("link", name="SoC", exact=True).click()
        await expect(page).to_have_url(f"{server.url}/sites/{site.code}?metric=soc")
        await fits(journey, "site-soc")
        await page.locator("#site_map table").get_by_role("link", name="String 1").click()
        await journey.at("String 1", crumbs=["Fleet", name, "String 1"], url="/strings/1$")
        await fits(journey, "string", charts=5)
        await page.locator("#string_live").get_by_role("link", name="Module 2").click()
        await journey.at("module 2", crumbs=["Fleet", name, "String 1", "Module 2"],
                         url="/modules/")  # fmt: skip
        await fits(journey, "module", charts=4)
        await charts_read_well(journey)
        await (
            page.get_by_role("navigation", name="Trend range")
            .get_by_role("link", name="7d")
            .click()
        )
        await expect(page).to_have_url(
            f"{server.url}/sites/{site.code}/modules/{site.module_ids[1]}?range=7d"
        )
        await page.locator("nav.crumbs").get_by_role("link", name=name).click()
        await page.locator("p.links").get_by_role("link", name="Fault log").click()
        await journey.at("Fault log", crumbs=["Fleet", name, "Fault log"], url="/faults$")
        await fits(journey, "faults")
        await page.locator("nav.crumbs").get_by_role("link", name=name).click()
        await page.locator("p.links").get_by_role("link", name="KPIs").click()
        await journey.at(f"KPIs {site.code}", crumbs=None, url=f"/kpis\\?site={site.code}$")
        await fits(journey, "kpis-site")
        await page.locator("#mainnav").get_by_role("link", name="KPIs").click()
        await journey.at("KPIs whole fleet", crumbs=None, url="/kpis$")
        await fits(journey, "kpis-fleet")
        await page.locator("#mainnav").get_by_role("link", name="Alarms").click()
        await journey.at("Alarms", crumbs=None, url="/alarms$")
        await fits(journey, "alarms")
        assert await page.locator('#mainnav a[aria-current="page"]').inner_text() == "Alarms"
        journey.assert_clean()
    finally:
        await page.context.close()
