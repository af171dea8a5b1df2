"""An operator works through a site's alarms by clicking: acknowledge one with a note, several
at once, all shown; shelve one and unshelve it; an alarm someone else acknowledged meanwhile is
refused in place. The database agrees with the screen."""

import re

import psycopg
from playwright.async_api import Browser, Locator, expect

from tests.browser.journey import journey_of
from tests.db import psycopg_dsn
from tests.factories import DeviceSite
from tests.server import LiveServer


def states(dsn: str, site_id: int) -> dict[str, tuple[str, str | None]]:
    """Each alarm's code, state and acknowledgement note."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT code, state, ack_note FROM alarm WHERE site_id = %s", (site_id,)
        ).fetchall()
    return {code: (state, note) for code, state, note in found}


async def test_acknowledge_shelve_and_unshelve(
    browser: Browser, server: LiveServer, journey_site: DeviceSite, test_database_url: str
) -> None:
    async with journey_of(browser, server, "operator") as journey:
        page = journey.page
        await journey.nav("Alarms")
        filters = page.locator("form.filters")
        await filters.get_by_label("Site").select_option(label=journey_site.name)
        await expect(page).to_have_url(re.compile(f"site={journey_site.code}&"))
        table = page.locator("#alarm_table")
        await expect(table.locator("tr.alarm")).to_have_count(4)

        def row(title: str) -> Locator:
            return table.locator("tr.alarm").filter(has_text=title)

        warning = row("Cell over-voltage warning")
        await warning.get_by_placeholder("Note (optional)").fill("topped up, watching it")
        await warning.get_by_role("button", name="Acknowledge").click()
        await expect(warning).to_contain_text("Acknowledged")
        await expect(warning).to_contain_text("topped up, watching it")

        bulk = page.locator("#alarm-bulk")
        await expect(bulk.get_by_role("button", name="Acknowledge selected (0)")).to_be_disabled()
        await row("Cell under-voltage alarm").get_by_role("checkbox").check()
        await row("Cell under-voltage warning").get_by_role("checkbox").check()
        await bulk.get_by_label("Note").fill("string 2 low after discharge")
        await bulk.get_by_role("button", name="Acknowledge selected (2)").click()
        await expect(row("Cell under-voltage alarm")).to_contain_text("Acknowledged")
        await expect(row("Cell under-voltage warning")).to_contain_text("Acknowledged")

        hot = row("Module over-temperature alarm")
        await hot.get_by_text("Shelve…").click()
        await hot.locator("select[name=minutes]").select_option(label="1 h")
        await hot.get_by_label("Reason", exact=True).fill("sensor being replaced")
        await hot.get_by_role("button", name="Shelve").click()
        await expect(table.locator("tr.alarm")).to_have_count(3)

        await filters.get_by_label("State").select_option(label="Shelved")
        await expect(table.locator("tr.alarm")).to_have_count(1)
        await expect(table).to_contain_text("sensor being replaced")
        await table.get_by_role("button", name="Unshelve").click()
        await expect(table).to_contain_text("No alarms here.")

        await filters.get_by_label("State").select_option(label="Standing (not shelved)")
        await expect(table.locator("tr.alarm")).to_have_count(4)
        await bulk.get_by_role("button", name="Acknowledge all 1 shown").click()
        await expect(table.locator("tr.alarm.state-acked")).to_have_count(4)
    assert states(psycopg_dsn(test_database_url), journey_site.site_id) == {
        "cell_ov_warning": ("acked", "topped up, watching it"),
        "cell_uv_alarm": ("acked", "string 2 low after discharge"),
        "cell_uv_warning": ("acked", "string 2 low after discharge"),
        "over_temp_alarm": ("acked", None),
    }


async def test_an_alarm_acknowledged_meanwhile_is_refused_in_place(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    title = "Cell under-voltage alarm"
    async with (
        journey_of(browser, server, "operator") as first,
        journey_of(browser, server, "operator", "tablet-portrait") as second,
    ):
        await first.open_site(journey_site)
        await second.open_site(journey_site)
        # The second operator starts a note (their list now waits for them), the first
        # acknowledges the same alarm, then the second sends theirs.
        mine = second.page.locator("#site_alarms tr.alarm").filter(has_text=title)
        await mine.get_by_placeholder("Note (optional)").fill("looking at it")
        theirs = first.page.locator("#site_alarms tr.alarm").filter(has_text=title)
        await theirs.get_by_role("button", name="Acknowledge").click()
        await expect(theirs).to_contain_text("Acknowledged")
        second.expected_statuses.add(409)
        await mine.get_by_role("button", name="Acknowledge").click()
        refusal = second.page.locator(".form-refusal")
        await expect(refusal).to_contain_text(f"Not done ({title}): this alarm has nothing to")
        await expect(second.page.locator("#flash")).to_have_count(0)
        await expect(mine).to_contain_text("Acknowledged")  # then it shows how things stand
