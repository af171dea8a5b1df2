"""Every filter control on every page, set and cleared by a person: a blank choice means "any".

Filter forms send every field, blank ones too (`?site=&priority=&state=shelved`); each answer
must be the filtered list, never a 422.
"""

from playwright.async_api import Browser, expect

from tests.browser.journey import Journey, journey_of
from tests.factories import DeviceSite
from tests.server import LiveServer


async def rows(journey: Journey, selector: str, count: int) -> None:
    """The list shows `count` rows once the filter's answer is in."""
    await journey.settled()
    await expect(journey.page.locator(selector)).to_have_count(count)


async def test_fleet_alarm_and_kpi_filters(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    code, name = journey_site.code, journey_site.name
    async with journey_of(browser, server, "operator") as journey:
        page = journey.page
        fleet = page.locator("#fleet")
        await fleet.get_by_label("Find").fill(code)
        await rows(journey, "#fleet_table tbody tr", 1)
        state = await page.locator(f'tr[data-site="{code}"] .state').inner_text()
        await fleet.get_by_label("State").select_option(label=state.strip())
        await rows(journey, "#fleet_table tbody tr", 1)
        await fleet.get_by_label("Find").fill("")
        await fleet.get_by_label("State").select_option("")
        await expect(page).to_have_url(f"{server.url}/?q=&state=&sort=state")
        assert await page.locator("#fleet_table tbody tr").count() >= 1

        await journey.nav("Alarms")
        filters = page.locator("form.filters")
        await filters.get_by_label("Site").select_option(label=name)
        await rows(journey, "#alarm_table tr.alarm", 4)
        await filters.get_by_label("Priority").select_option(label="High")
        await rows(journey, "#alarm_table tr.alarm", 1)
        await filters.get_by_label("Priority").select_option("")
        await rows(journey, "#alarm_table tr.alarm", 4)
        await filters.get_by_label("State").select_option(label="Shelved")
        await expect(page.locator("#alarm_table")).to_contain_text("No alarms here.")
        await expect(page).to_have_url(f"{server.url}/alarms?site={code}&priority=&state=shelved")
        await filters.get_by_label("State").select_option(label="Unacknowledged")
        await rows(journey, "#alarm_table tr.alarm", 4)
        await filters.get_by_label("Site").select_option("")
        await journey.settled()
        assert await page.locator("#alarm_table tr.alarm").count() >= 4

        await journey.nav("KPIs")
        await page.locator("form.filters").get_by_label("Site").select_option(label=name)
        await journey.at(f"KPIs {code}", crumbs=None, url=f"/kpis\\?site={code}&window=7d$")
        await page.locator("form.filters").get_by_label("Window").select_option(label="last 30d")
        await journey.at(f"KPIs {code}", crumbs=None, url=f"/kpis\\?site={code}&window=30d$")
        await page.locator("form.filters").get_by_label("Site").select_option("")
        await journey.at("KPIs whole fleet", crumbs=None, url="/kpis\\?site=&window=30d$")


async def test_fault_log_filters_on_a_tablet(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    site = journey_site
    async with journey_of(browser, server, "technician", "tablet-portrait") as journey:
        page = journey.page
        await journey.open_site(site)
        await page.locator("p.links").get_by_role("link", name="Fault log").click()
        await journey.at("Fault log", crumbs=["Fleet", site.name, "Fault log"], url="/faults$")
        filters = page.locator("form.filters")
        await rows(journey, "#fault_list li.fault", 4)
        await filters.get_by_label("Search").fill("under-voltage")
        await rows(journey, "#fault_list li.fault", 2)
        await filters.get_by_label("Priority").select_option(label="High")
        await rows(journey, "#fault_list li.fault", 1)
        await filters.get_by_label("Priority").select_option("")
        await rows(journey, "#fault_list li.fault", 2)
        await filters.get_by_label("String").select_option(label="String 1")
        await expect(page.locator("#fault_list")).to_contain_text("No faults match these filters.")
        await filters.get_by_label("String").select_option("")
        await rows(journey, "#fault_list li.fault", 2)
        await filters.get_by_label("Status").select_option(label="cleared")
        await expect(page.locator("#fault_list")).to_contain_text("No faults match these filters.")
        await filters.get_by_label("Status").select_option(label="still open")
        await filters.get_by_label("Period").select_option(label="everything")
        await rows(journey, "#fault_list li.fault", 2)
        await filters.get_by_label("Search").fill("")
        await rows(journey, "#fault_list li.fault", 4)
        csv = page.get_by_role("link", name="Download CSV")
        query = "q=&priority=&status=open&window=all&string="
        await expect(csv).to_have_attribute("href", f"/sites/{site.code}/faults.csv?{query}")
        async with page.expect_download() as download:
            await csv.click()
        saved = await (await download.value).path()
        assert saved is not None
        assert len(saved.read_text().splitlines()) == 1 + 4  # the header and four open faults
