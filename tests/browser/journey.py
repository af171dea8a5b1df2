"""Journeys as a person makes them: open `/` once, sign in, then only click, type and choose.

A `Journey` watches everything the page does: console errors, uncaught exceptions and every
answer of 400 or more (or a request that never got an answer) count as failures, except those a
test names beforehand as the point of the step.
"""

import re
from dataclasses import dataclass, field

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    Response,
    expect,
)

from tests.browser.conftest import SIZES
from tests.db import psycopg_dsn
from tests.server import LiveServer
from tests.signin import PASSWORD, ensure_user

SETTLE_MS = 10_000


@dataclass
class Journey:
    """A signed-in page and what went wrong on it."""

    page: Page
    server: LiveServer
    problems: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium also logs every error answer; those the test expects are not problems.
        status = re.search(r"(?:status of|Status Error Code) (\d+)", message.text)
        if status is None or int(status.group(1)) not in self.expected_statuses:
            self.problems.append(message.text)

    def _on_failed(self, request: Request) -> None:
        # An event stream closed by navigating away is not a failure of the page.
        if "/live" not in request.url:
            self.problems.append(f"failed {request.method} {request.url}: {request.failure}")

    def watch(self) -> None:
        """Record console errors, page errors, error answers and failed requests."""
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("response", self._on_response)
        self.page.on("requestfailed", self._on_failed)

    async def sign_in(self, username: str) -> None:
        """The only `goto`: open `/`, land on the sign-in form, sign in."""
        await self.page.goto(self.server.url + "/")
        await expect(self.page.locator("h1")).to_have_text("Sign in")
        await self.page.get_by_label("Username").fill(username)
        await self.page.get_by_label("Password").fill(PASSWORD)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.at("Fleet", crumbs=None, url=r"/$")

    async def at(self, heading: str, *, crumbs: list[str] | None, url: str) -> None:
        """On a page with exactly one h1 reading `heading`, this breadcrumb, and this URL."""
        await expect(self.page).to_have_url(re.compile(url), timeout=SETTLE_MS)
        h1 = self.page.locator("h1")
        await expect(h1).to_have_count(1)
        await expect(h1).to_contain_text(heading)
        trail = self.page.locator("nav.crumbs")
        if crumbs is None:
            await expect(trail).to_have_count(0)
        else:
            await expect(trail).to_have_count(1)
            trail_text = r"\s*\u203a\s*".join(map(re.escape, crumbs))
            await expect(trail).to_have_text(re.compile(trail_text))
        await self.settled()

    async def settled(self) -> None:
        """No htmx request in flight."""
        await self.page.wait_for_function(
            "!document.querySelector('.htmx-request')", timeout=SETTLE_MS
        )

    def main(self) -> Locator:
        """The page's content area."""
        return self.page.locator("#main")

    def assert_clean(self) -> None:
        """Nothing went wrong on the way."""
        assert self.problems == [], self.problems


async def start(
    browser: Browser, server: LiveServer, role: str, viewport: str = "desktop"
) -> Journey:
    """A new browser context for the role's test user, signed in through the form."""
    width, height = SIZES[viewport]
    touch = viewport.startswith("tablet")  # a finger, not a mouse: the touch layout
    context = await browser.new_context(
        viewport={"width": width, "height": height}, has_touch=touch, is_mobile=False
    )
    journey = Journey(await context.new_page(), server)
    journey.watch()
    await journey.sign_in(ensure_user(psycopg_dsn(server.database_url), role))
    return journey
