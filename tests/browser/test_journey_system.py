"""The site page shows the system's pack-level values with their units, only those reported,
and nothing at all for a site whose BMS sends none; reached by clicking from `/`."""

from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.journey import journey_of
from tests.factories import committed_device_site
from tests.server import LiveServer
from tests.wire import batch, full_site_rows, iso, post_batch

# What the BMS master reported: no SoH and no current limits (not every BMS sends them).
REPORTED = {
    "soc_pct": 61.5,
    "voltage_v": 800.0,
    "current_a": -40.0,
    "power_kw": -32.0,
    "charge_limit_kw": 180.0,
    "discharge_limit_kw": 215.5,
}
SHOWN = {
    "soc_pct": ("System SoC", "61.5 %"),
    "voltage_v": ("System voltage", "800.0 V"),
    "current_a": ("System current", "-40.0 A"),
    "power_kw": ("System power", "-32.0 kW"),
    "charge_limit_kw": ("Charge power limit", "180.0 kW"),
    "discharge_limit_kw": ("Discharge power limit", "215.5 kW"),
}


async def test_the_site_page_shows_the_system_values_and_nothing_without_them(
    browser: Browser, server: LiveServer, engine: AsyncEngine
) -> None:
    with_system = await committed_device_site(engine, name="Pack Site")
    without = await committed_device_site(engine, name="Strings Only Site")
    now = datetime.now(UTC) - timedelta(seconds=2)
    body = batch(with_system.code, 1, **full_site_rows(now))
    body["systems"] = [{"ts": iso(now), "quality": 0, **REPORTED}]
    assert post_batch(server, with_system.token, body).json()["systems"]["stored"] == 1
    assert post_batch(server, without.token, batch(without.code, 1, **full_site_rows(now)))

    async with journey_of(browser, server, "viewer") as journey:
        page = journey.page
        await journey.open_site(with_system)
        panel = page.locator("#system")
        await expect(panel.get_by_role("heading")).to_contain_text("System")
        for field, (label, text) in SHOWN.items():
            item = panel.locator(f'[data-field="{field}"]')
            await expect(item.locator("dt")).to_have_text(label)
            await expect(item.locator("dd")).to_have_text(text)
        # Values the BMS does not report are left out, not shown as a row of dashes.
        await expect(panel.locator("[data-field]")).to_have_count(len(SHOWN))
        await journey.nav("Fleet")
        await journey.open_site(without)
        await expect(page.locator("#system")).to_have_count(0)
        await expect(page.get_by_role("heading", name="Strings", exact=True)).to_have_count(1)
