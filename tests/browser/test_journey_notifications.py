"""From `/`: an admin adds a rule sending a site's high-priority alarms by e-mail to a user;
that user enters their own e-mail address and sends themselves a test message; it arrives in
the local SMTP sink, and the admin sees it caught on the notifications page. Every new form is
submitted blank and at its defaults on the way."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox as MaildirHandler
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser.journey import Journey, journey_of
from tests.browser.test_journey_blank_forms import submit_every_form
from tests.db import psycopg_dsn
from tests.factories import committed_device_site
from tests.server import LiveServer, free_port, live_server
from tests.signin import ensure_user

DEADLINE_S = 60.0


@pytest.fixture
def sink_server(test_database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A backend mailing a real SMTP sink that keeps a Maildir the admin page lists."""
    mail = tmp_path / "mail"
    sink = Controller(MaildirHandler(mail), hostname="127.0.0.1", port=free_port())
    sink.start()
    env = {
        "RIDETHROUGH_DATABASE_URL": test_database_url,
        "RIDETHROUGH_SMTP_PORT": str(sink.port),
        "RIDETHROUGH_MAIL_SINK_DIR": str(mail),
        "RIDETHROUGH_NOTIFY_INTERVAL_S": "0.2",
        "RIDETHROUGH_WATCHDOG_DATA_AGE_S": str(7 * 86400),
    }
    try:
        with live_server(env) as running:
            yield running
    finally:
        sink.stop()


async def open_admin_notifications(journey: Journey) -> None:
    """Admin in the main navigation, then its notifications link."""
    await journey.nav("Admin")
    await journey.page.get_by_role("link", name="Notification rules and messages").click()
    await journey.at("Notifications", crumbs=None, url="/admin/notifications$")


async def open_my_notifications(journey: Journey) -> None:
    """Notifications in the main navigation."""
    await journey.page.locator("#mainnav").get_by_role("link", name="Notifications").click()
    await journey.at("Your notifications", crumbs=None, url="/notifications$")


async def test_a_rule_a_contact_and_a_test_message_caught_by_the_sink(
    browser: Browser, sink_server: LiveServer, engine: AsyncEngine
) -> None:
    site = await committed_device_site(engine, name="Mail <Site>")
    operator_name = ensure_user(psycopg_dsn(sink_server.database_url), "operator")
    async with journey_of(browser, sink_server, "admin") as admin:
        await open_admin_notifications(admin)
        outcomes = await submit_every_form(admin, "admin notifications")
        await open_my_notifications(admin)
        outcomes += await submit_every_form(admin, "my notifications")
        refused = [o for o in outcomes if "refused" in o]
        assert any("/admin/notifications/rules blank" in o for o in refused), outcomes
        assert any("/admin/notifications/rosters blank" in o for o in refused), outcomes
        assert any("/notifications/contact" in o and "submitted" in o for o in outcomes)
        await open_admin_notifications(admin)
        form = admin.page.locator('form[action="/admin/notifications/rules"]')
        await form.get_by_label("Name").fill("mail site high")
        await form.get_by_label("Sites").select_option(site.code)
        await form.get_by_label("To (users").select_option(operator_name)
        await form.get_by_role("button", name="Add rule").click()
        await admin.settled()
        await expect(admin.main().get_by_role("status")).to_contain_text("added")
        row = admin.main().locator("tr[data-rule]", has_text="mail site high")
        await expect(row).to_contain_text(site.code)
        await expect(row).to_contain_text(operator_name)
        await expect(row).to_contain_text("1 to 2")  # high-priority alarms and above
        await expect(row).to_contain_text("email")
    async with journey_of(browser, sink_server, "operator") as operator:
        await open_my_notifications(operator)
        await operator.page.get_by_label("E-mail").fill("operator@example.com")
        await operator.page.get_by_role("button", name="Save").click()
        await expect(operator.main().get_by_role("status")).to_contain_text("saved")
        await operator.page.get_by_role("button", name="Send me a test message").click()
        await expect(operator.main().get_by_role("status")).to_contain_text("1 test message")
    async with journey_of(browser, sink_server, "admin") as admin:
        caught = admin.main().locator("tr.caught", has_text="Ridethrough test message")
        deadline = time.monotonic() + DEADLINE_S
        while True:  # the page lists the sink as it is: look again until the mail is there
            await open_admin_notifications(admin)
            if await caught.count() or time.monotonic() > deadline:
                break
        await expect(caught).to_contain_text("operator@example.com")
        # The sink's table belongs on the page, not in its title.
        await expect(admin.page).to_have_title("Notifications · Ridethrough")
