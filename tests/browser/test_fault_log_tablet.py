"""The fault log on a 10-inch tablet, both ways up, reached by tapping: no sideways scrolling,
fingers fit, the guidance opens."""

from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.browser.journey import journey_of
from tests.factories import DeviceSite
from tests.server import LiveServer

TABLET = {"portrait": "tablet-portrait", "landscape": "tablet-landscape"}
TOUCH_PX = 44
INTERACTIVE = "main a, main button, main summary, main select, main input"


@pytest.mark.parametrize("orientation", list(TABLET))
async def test_fault_log_fits_a_tablet(
    browser: Browser,
    server: LiveServer,
    browser_site: DeviceSite,
    orientation: str,
    tmp_path: Path,
) -> None:
    site = browser_site
    async with journey_of(browser, server, "technician", TABLET[orientation]) as journey:
        page = journey.page
        await journey.open_site(site)
        await page.locator("p.links").get_by_role("link", name="Fault log").click()
        await journey.at("Fault log", crumbs=["Fleet", site.name, "Fault log"], url="/faults$")
        await page.locator("form.filters").get_by_label("Period").select_option(label="everything")
        await journey.settled()
        await page.locator(".fault details summary").first.click()  # guidance open
        shot = tmp_path / f"fault-log-{orientation}.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the fault log scrolls sideways by {overflow}px"
        wide = await page.evaluate(
            """() => [...document.querySelectorAll('main *')]
                 .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                 .map(e => e.tagName + '.' + e.className)"""
        )
        assert wide == []
        small = await page.evaluate(
            f"""() => [...document.querySelectorAll('{INTERACTIVE}')]
                 .filter(e => e.offsetParent !== null)
                 .map(e => [e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 30),
                            e.getBoundingClientRect().height])
                 .filter(([, h]) => h < {TOUCH_PX})"""
        )
        assert small == [], f"touch targets under {TOUCH_PX}px: {small}"
        assert await page.locator(".fault").count() == 1
        assert await page.locator(".guidance .safety").first.is_visible()
