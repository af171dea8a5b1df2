"""Each role sees only what it may do: no button that would only be refused after a click.

A viewer reads everything and changes nothing; a technician acknowledges and takes equipment
out of service and back for maintenance; an operator does all of that and more (the other
journeys); an admin also manages users, devices and tokens.
"""

from playwright.async_api import Browser, expect

from tests.browser.journey import Journey, journey_of
from tests.factories import DeviceSite
from tests.server import LiveServer


async def command_choices(journey: Journey) -> list[str]:
    """The command forms the page offers."""
    titles = await journey.page.locator(".command-panel summary").all_inner_texts()
    return [t.strip() for t in titles]


async def test_a_viewer_sees_no_action(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    async with journey_of(browser, server, "viewer", "tablet-portrait") as journey:
        page, main = journey.page, journey.main()
        await expect(page.locator("#mainnav").get_by_role("link", name="Admin")).to_have_count(0)
        await journey.open_site(journey_site)
        await expect(page.locator("#site_alarms tr.alarm")).to_have_count(4)
        for control in ("button", "input[type=checkbox]", "details.shelve", ".command-panel"):
            await expect(main.locator(control)).to_have_count(0)
        await journey.open_string(journey_site, 1)
        await expect(main.locator(".command-panel")).to_have_count(0)
        await journey.nav("Alarms")
        await expect(main.locator("#alarm_table button")).to_have_count(0)
        await expect(main.locator("#alarm-bulk")).to_have_count(0)


async def test_a_technician_acts_for_maintenance_only(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    async with journey_of(browser, server, "technician", "tablet-portrait") as journey:
        page = journey.page
        await journey.open_site(journey_site)
        alarms = page.locator("#site_alarms")
        await expect(alarms.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(4)
        await expect(alarms.locator("details.shelve")).to_have_count(0)
        assert await command_choices(journey) == ["Reset latched alarms…"]

        await journey.open_string(journey_site, 2)
        assert await command_choices(journey) == [
            "Isolate this string…",
            "Return to service…",
            "Reset latched alarms…",
        ]
        panel = page.locator(".command-panel details").filter(has_text="Isolate this string")
        await panel.locator("summary").click()
        await expect(panel.locator("select[name=reason]")).to_have_count(0)
        await expect(panel).to_contain_text("Reason: maintenance")
        await panel.get_by_label("Note").fill("replace module 1 fan")
        await panel.get_by_role("button", name="Review impact").click()
        answer = panel.locator(".command-answer")
        await expect(answer.locator(".impact")).to_contain_text("1 of 2 strings online")
        await answer.get_by_role("button", name="Confirm and send").click()
        await expect(answer.locator(".command-state")).to_have_text("queued")


async def test_an_admin_reaches_the_admin_page(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    async with journey_of(browser, server, "admin") as journey:
        await journey.nav("Admin")
        for heading in ("Users", "Edge devices", "API tokens"):
            await expect(journey.page.get_by_role("heading", name=heading)).to_be_visible()
        await journey.nav("Fleet")
