"""On a 10-inch tablet either way up (800 by 1280, 1280 by 800): every control is a 44 px touch
target, and none is cut off or covered: each can be tapped at its centre once scrolled to."""

import pytest
from playwright.async_api import Browser

from tests.browser.journey import Journey, journey_of
from tests.factories import DeviceSite
from tests.server import LiveServer

TOUCH_PX = 44
# Each visible control: its size, and whether a tap at its centre lands on it.
MEASURE = """(minimum) => Array.from(document.querySelectorAll(
    'a, button, select, summary, input:not([type=hidden]):not([type=checkbox]), label.tick'))
  .filter(e => e.checkVisibility({ visibilityProperty: true }) && !e.closest('.skip'))
  .map(e => {
    e.scrollIntoView({ block: 'center', inline: 'center' });
    const r = e.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    const small = r.width < minimum - 0.5 || r.height < minimum - 0.5;
    const on = hit && (e === hit || e.contains(hit) || (e.control && e.control === hit));
    const covered = !on;
    return (small || covered)
      ? `${e.tagName.toLowerCase()} "${(e.textContent || e.name || '').trim().slice(0, 30)}" `
        + `${Math.round(r.width)}x${Math.round(r.height)}${covered ? ' covered' : ''}` : null;
  }).filter(Boolean)"""


async def problems_on(journey: Journey, name: str) -> list[str]:
    """The page's controls that are too small to tap or cannot be tapped."""
    found: list[str] = await journey.page.evaluate(MEASURE, TOUCH_PX)
    return [f"{name}: {p}" for p in found]


@pytest.mark.parametrize("orientation", ["tablet-portrait", "tablet-landscape"])
async def test_every_control_is_a_touch_target(
    browser: Browser, server: LiveServer, journey_site: DeviceSite, orientation: str
) -> None:
    found: list[str] = []
    async with journey_of(browser, server, "operator", orientation) as journey:

        async def visit(name: str) -> None:
            found.extend(await problems_on(journey, name))

        await journey.tour(journey_site, visit)
    assert found == [], "\n".join(found)
