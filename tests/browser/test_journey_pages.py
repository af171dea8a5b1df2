"""Every screen, reached by clicking, renders cleanly at desktop and tablet size: nothing
scrolls sideways, the trend charts are drawn, and nothing goes wrong on the way."""

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import VIEWPORTS
from tests.browser.journey import Journey, journey_of
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
    site, name = journey_site, journey_site.name
    async with journey_of(browser, server, "operator", viewport) as journey:
        page = journey.page
        await fits(journey, "fleet")
        await journey.open_site(site)
        assert await page.title() == f"{name} · Ridethrough"  # the name as text, not markup
        await fits(journey, "site")
        await page.get_by_role("link", name="SoC", exact=True).click()
        await expect(page).to_have_url(f"{server.url}/sites/{site.code}?metric=soc")
        await fits(journey, "site-soc")
        await journey.open_string(site, 1)
        await fits(journey, "string", charts=5)
        await page.locator("#string_live").get_by_role("link", name="Module 2").click()
        await journey.at(
            "module 2", crumbs=["Fleet", name, "String 1", "Module 2"], url="/modules/"
        )
        await fits(journey, "module", charts=4)
        await charts_read_well(journey)
        trend_range = page.get_by_role("navigation", name="Trend range")
        await expect(trend_range.locator("[aria-current]")).to_have_text("1h")  # data of minutes
        await trend_range.get_by_role("link", name="7d").click()
        module = site.module_ids[1]
        await expect(page).to_have_url(f"{server.url}/sites/{site.code}/modules/{module}?range=7d")
        await journey.back_to_site(site)
        await page.locator("p.links").get_by_role("link", name="Fault log").click()
        await journey.at("Fault log", crumbs=["Fleet", name, "Fault log"], url="/faults$")
        await fits(journey, "faults")
        await journey.back_to_site(site)
        await page.locator("p.links").get_by_role("link", name="KPIs").click()
        await journey.at(f"KPIs {site.code}", crumbs=None, url=f"/kpis\\?site={site.code}$")
        await fits(journey, "kpis-site")
        await journey.nav("KPIs")
        await fits(journey, "kpis-fleet")
        await journey.nav("Alarms")
        await fits(journey, "alarms")
        assert await page.locator('#mainnav a[aria-current="page"]').inner_text() == "Alarms"
