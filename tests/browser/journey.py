"""Journeys as a person makes them: open `/` once, sign in, then only click, type and choose.

A `Journey` watches everything the page does: console errors, uncaught exceptions and every
answer of 400 or more (or a request that never got an answer) count as failures, except those a
test names beforehand as the point of the step.
"""

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
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
from tests.factories import DeviceSite
from tests.server import LiveServer
from tests.signin import PASSWORD, ensure_user

SETTLE_MS = 10_000


CSP_REPORTER = """document.addEventListener('securitypolicyviolation', (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));"""


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
        # A locator, not wait_for_function: polling a function string is an eval, which the
        # app's Content-Security-Policy (script-src 'self') rightly refuses.
        await expect(self.page.locator(".htmx-request")).to_have_count(0, timeout=SETTLE_MS)

    def main(self) -> Locator:
        """The page's content area."""
        return self.page.locator("#main")

    def assert_clean(self) -> None:
        """Nothing went wrong on the way."""
        assert self.problems == [], self.problems

    async def open_site(self, site: DeviceSite) -> None:
        """From the fleet page, the site's name in its row."""
        row = self.page.locator(f'#fleet_table tr[data-site="{site.code}"]')
        await row.get_by_role("link").click()
        await self.at(site.name, crumbs=["Fleet", site.name], url=f"/sites/{site.code}$")

    async def open_string(self, site: DeviceSite, string: int) -> None:
        """From the site page, the string's row in the strings table."""
        table = self.page.locator("#site_map table")
        await table.get_by_role("link", name=f"String {string}").click()
        await self.at(
            f"String {string}",
            crumbs=["Fleet", site.name, f"String {string}"],
            url=f"/sites/{site.code}/strings/{string}$",
        )

    async def back_to_site(self, site: DeviceSite) -> None:
        """The site's link in the breadcrumb."""
        await self.page.locator("nav.crumbs").get_by_role("link", name=site.name).click()
        await self.at(site.name, crumbs=["Fleet", site.name], url=f"/sites/{site.code}$")

    async def nav(self, name: str) -> None:
        """A link of the main navigation (Fleet, Alarms, KPIs, Admin)."""
        await self.page.locator("#mainnav").get_by_role("link", name=name).click()
        url = "/$" if name == "Fleet" else f"/{name.lower()}$"
        await self.at(name, crumbs=None, url=url)

    async def tour(self, site: DeviceSite, visit: Callable[[str], Awaitable[None]]) -> None:
        """Every screen of a site and the fleet, by clicking; `visit(name)` on each."""
        page = self.page
        await visit("fleet")
        await self.open_site(site)
        await visit("site")
        await self.open_string(site, 1)
        await visit("string")
        await page.locator("#string_live").get_by_role("link", name="Module 2").click()
        await self.at(
            "module 2", crumbs=["Fleet", site.name, "String 1", "Module 2"], url="/modules/"
        )
        await visit("module")
        await self.back_to_site(site)
        await page.locator("p.links").get_by_role("link", name="Fault log").click()
        await self.at("Fault log", crumbs=["Fleet", site.name, "Fault log"], url="/faults$")
        await visit("faults")
        for name in ("Alarms", "KPIs"):
            await self.nav(name)
            await visit(name.lower())


@asynccontextmanager
async def journey_of(
    browser: Browser, server: LiveServer, role: str, viewport: str = "desktop"
) -> AsyncIterator[Journey]:
    """A new browser context for the role's test user, signed in through the form; on a clean
    exit, nothing may have gone wrong on the way; the context is closed either way."""
    width, height = SIZES[viewport]
    touch = viewport.startswith("tablet")  # a finger, not a mouse: the touch layout
    context = await browser.new_context(
        viewport={"width": width, "height": height}, has_touch=touch, is_mobile=False
    )
    try:
        # Chromium logs a CSP violation as a console error; say which directive, to be sure.
        await context.add_init_script(CSP_REPORTER)
        journey = Journey(await context.new_page(), server)
        journey.watch()
        await journey.sign_in(ensure_user(psycopg_dsn(server.database_url), role))
        yield journey
        journey.assert_clean()
    finally:
        await context.close()
