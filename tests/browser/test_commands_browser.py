"""From the string page: review a command's impact, confirm it, see it in the site's list."""

from playwright.async_api import expect

from tests.browser.conftest import Watched
from tests.factories import DeviceSite
from tests.server import LiveServer


async def test_isolate_a_string_with_two_step_confirmation(
    watched: Watched, server: LiveServer, browser_site: DeviceSite
) -> None:
    page = watched.page
    await page.goto(f"{server.url}/sites/{browser_site.code}/strings/2")
    panel = page.locator(".command-panel details", has_text="Isolate this string")
    await panel.locator("summary").click()
    await panel.get_by_label("Reason").select_option("maintenance")
    await panel.get_by_label("Note").fill("replace string fuse")
    await panel.get_by_role("button", name="Review impact").click()
    answer = panel.locator(".command-answer")
    await expect(answer).to_contain_text("Impact: site power 100 kW → 50 kW, 1 of 2 strings online")
    await answer.get_by_role("button", name="Confirm and send").click()
    await expect(answer).to_contain_text("queued")
    await page.goto(f"{server.url}/sites/{browser_site.code}")
    row = page.locator("tr.command").first
    await expect(row).to_contain_text("isolate string")
    await expect(row).to_contain_text("replace string fuse")
    assert watched.errors == []
