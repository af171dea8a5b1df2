"""Every page renders in Chromium at desktop and tablet size without console errors."""

import pytest
from playwright.async_api import Browser

from tests.browser.conftest import VIEWPORTS, Watched, open_page
from tests.factories import DeviceSite
from tests.server import LiveServer


def pages(site: DeviceSite) -> dict[str, str]:
    """Every page of the UI for one site."""
    return {
        "fleet": "/",
        "alarms": f"/alarms?site={site.code}",
        "site": f"/sites/{site.code}",
        "site-soc": f"/sites/{site.code}?metric=soc",
        "string": f"/sites/{site.code}/strings/1",
        "module": f"/sites/{site.code}/modules/{site.module_ids[1]}?range=1h",
        "faults": f"/sites/{site.code}/faults?window=all",
        "kpis-site": f"/kpis?site={site.code}&window=30d",
        "kpis-fleet": "/kpis",
    }


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_every_page_renders_cleanly(
    browser: Browser, server: LiveServer, browser_site: DeviceSite, viewport: str
) -> None:
    watched = await open_page(browser, *VIEWPORTS[viewport], server=server)
    page = watched.page
    try:
        for name, path in pages(browser_site).items():
            response = await page.goto(server.url + path)
            assert response is not None
            assert response.status == 200, name
            await page.wait_for_load_state("networkidle")
            assert await page.locator("h1").first.is_visible(), name
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} overflows by {overflow}px at {viewport}"
            charts = {"module": 4, "string": 5}.get(name)
            if charts:
                await page.wait_for_selector("[data-trend][data-loaded]")
                assert await page.locator(".chart canvas").count() == charts
        assert watched.errors == []
    finally:
        await page.context.close()


async def test_navigation_swaps_content_and_keeps_the_url(
    watched: Watched, server: LiveServer, browser_site: DeviceSite
) -> None:
    page = watched.page
    await page.goto(server.url + "/")
    await page.locator(f'tr[data-site="{browser_site.code}"] a').click()
    await page.wait_for_url(f"**/sites/{browser_site.code}")
    assert await page.title() == "Browser <Site> · Ridethrough"
    await page.get_by_role("link", name="SoC", exact=True).click()
    await page.wait_for_url("**metric=soc")
    assert await page.locator("#heatmap-heading").inner_text() == "Modules: SoC"
    await page.get_by_role("link", name="Alarms").first.click()
    await page.wait_for_url("**/alarms")
    assert await page.locator('#mainnav a[aria-current="page"]').inner_text() == "Alarms"
    assert watched.errors == []
