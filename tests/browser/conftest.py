"""Headless Chromium (Debian's package) driven by Playwright, against a live backend.

The async API, so the browser shares the test session's event loop with the async fixtures.
"""

import itertools
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, full_site_rows, post_batch

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"desktop": (1440, 900), "tablet-portrait": (800, 1280)}  # every journey, both
SIZES = {**VIEWPORTS, "tablet-landscape": (1280, 800)}
# A shared two-core machine running a backend, a database and Chromium at once answers slower
# than a desk does; assertions wait up to this long for the page to show what they expect.
expect.set_options(timeout=10_000)


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the whole session."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        await chromium.close()


@dataclass
class Watched:
    """A page and every console error or uncaught exception it produced."""

    page: Page
    errors: list[str] = field(default_factory=list)


async def open_page(
    browser: Browser, width: int, height: int, *, server: LiveServer, role: str = "operator"
) -> Watched:
    """A fresh page, signed in as the role's test user, recording console and page errors."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    cookies, _ = server.credentials(role)
    await context.add_cookies(
        [{"name": name, "value": value, "url": server.url} for name, value in cookies.items()]
    )
    page = await context.new_page()
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    return watched


@pytest_asyncio.fixture
async def watched(browser: Browser, server: LiveServer) -> AsyncIterator[Watched]:
    """A desktop-size page signed in as an operator, closed after the test."""
    page = await open_page(browser, *VIEWPORTS["desktop"], server=server)
    yield page
    await page.page.context.close()


@pytest.fixture
async def browser_site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A committed site with data and a standing alarm on string 1, module 2."""
    site = await committed_device_site(engine, name="Browser <Site>")
    body = batch(site.code, 1, **full_site_rows(T0))
    body["events"] = [event("fault_raised", 0.5, 1, 2, "cell_ov_warning")]
    assert post_batch(server, site.token, body).status_code == 200
    return site


_journey_sites = itertools.count(1)
JOURNEY_ALARMS = (  # (string, module, code): priorities 3, 2, 3, 1
    (1, 2, "cell_ov_warning"),
    (2, 1, "cell_uv_alarm"),
    (2, 3, "cell_uv_warning"),
    (1, 3, "over_temp_alarm"),
)


@pytest.fixture
async def journey_site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A committed site with data from just now and four standing alarms of mixed priority."""
    # Named with markup on purpose: every page must show it as text, never as HTML.
    site = await committed_device_site(engine, name=f"Journey <Site> {next(_journey_sites)}")
    body = batch(site.code, 1, **full_site_rows(datetime.now(UTC) - timedelta(seconds=2)))
    body["events"] = [
        event("fault_raised", 0.5 + n, string, module, code)
        for n, (string, module, code) in enumerate(JOURNEY_ALARMS)
    ]
    assert post_batch(server, site.token, body).status_code == 200
    return site
