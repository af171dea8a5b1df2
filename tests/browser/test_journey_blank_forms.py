"""Every form of every page, submitted as a person could: with its fields blank, and at their
defaults. No answer is an error: a blank filter means "any", and a form that cannot go out
blank is stopped by the browser with a message on the field, never by a 4xx from the server.

Forms without fields of their own (revoke, disable) are left out: nothing in them can be blank,
and they are exercised by the authorization-matrix tests. Acknowledging every shown alarm at once
comes last here, when single acknowledgements have left nothing to acknowledge; the alarm journey
submits it at its defaults.
"""

import pytest
from playwright.async_api import Browser, Locator, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.journey import Journey, journey_of
from tests.factories import DeviceSite
from tests.server import LiveServer

# Marks each form with what it does (where it goes, and the command kind for command forms)
# and lists those with fields a person fills in. Acting on every shown alarm at once goes last,
# so the forms of single alarms are still there to be tried.
LIST_FORMS = """() => Array.from(document.querySelectorAll('#main form')).map(f => {
  const kind = f.querySelector('input[name=kind]');
  const key = (f.getAttribute('hx-post') || f.getAttribute('hx-get') || f.getAttribute('action')
               || 'form') + (kind ? ' ' + kind.value : '');
  f.dataset.formKey = key;
  const fields = f.querySelectorAll('input:not([type=hidden]), select, textarea');
  return fields.length ? key : null;
}).filter(Boolean)
  .sort((a, b) => a.endsWith('/alarms/acknowledge') - b.endsWith('/alarms/acknowledge'))"""

# Blank every field a person could blank (the blank option of a select, if it has one).
BLANK = """(form) => {
  form.querySelectorAll('input:not([type=hidden]):not([type=checkbox]), textarea')
      .forEach(i => { i.value = ''; });
  form.querySelectorAll('select').forEach(s => {
    if (Array.from(s.options).some(o => o.value === '')) s.value = '';
  });
}"""

# Submit as a person would: the form's enabled submit button, else by changing its fields
# (filter forms have no button: they answer to each change).
SUBMIT = """(form) => {
  const button = Array.from(form.querySelectorAll('button'))
      .find(b => b.type === 'submit' && !b.disabled && b.offsetParent !== null);
  if (button) {
    if (!form.checkValidity()) return 'refused by the browser: ' +
        Array.from(form.elements).filter(e => e.validationMessage)
             .map(e => e.name + ': ' + e.validationMessage).join('; ');
    button.click();
    return 'submitted';
  }
  form.querySelectorAll('input, select').forEach(e => {
    e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input', { bubbles: true }));
  });
  return 'changed';
}"""


async def submit_every_form(journey: Journey, page_name: str) -> list[str]:
    """Each form of the page blank, then at its defaults; what happened to each."""
    page: Page = journey.page
    outcomes: list[str] = []
    for mode in ("blank", "default"):
        tried: set[str] = set()
        while True:
            keys = [k for k in await page.evaluate(LIST_FORMS) if k not in tried]
            if not keys:
                break
            tried.add(keys[0])
            outcome = await submit_marked(journey, keys[0], blank=mode == "blank")
            outcomes.append(f"{page_name} {keys[0]} {mode}: {outcome}")
    return outcomes


async def submit_marked(journey: Journey, key: str, *, blank: bool) -> str:
    """Submit the form marked `key`, marking the page again when a live refresh swapped it in
    between (hundreds of acknowledgements each refresh the alarm list); 'gone' if it left."""
    for _ in range(3):
        if key not in await journey.page.evaluate(LIST_FORMS):  # marks the page anew
            return "gone"
        form = journey.page.locator(f'form[data-form-key="{key}"]')
        try:
            return await submit(journey, form, blank=blank)
        except PlaywrightTimeoutError:
            continue  # swapped between marking and finding: mark again
    raise AssertionError(f"the form {key} kept being swapped out")


async def submit(journey: Journey, form: Locator, *, blank: bool) -> str:
    """Blank the form's fields (or not) and submit it as a person would; what happened."""
    await form.first.evaluate(
        "f => { const d = f.closest('details'); if (d) d.open = true; }", timeout=5_000
    )
    if blank:
        await form.first.evaluate(BLANK)
    outcome: str = await form.first.evaluate(SUBMIT)
    await journey.page.wait_for_timeout(500)  # a filter's input delay
    await journey.settled()
    if outcome.startswith("refused"):
        assert "fill out this field" in outcome, outcome
    return outcome


# Every form includes each shown alarm's: by the time this runs in the whole suite, the shared
# database holds a few hundred alarms, each acknowledged on its own at about a second apiece.
@pytest.mark.timeout(900)
async def test_every_form_blank_and_at_defaults(
    browser: Browser, server: LiveServer, journey_site: DeviceSite
) -> None:
    outcomes: list[str] = []
    async with journey_of(browser, server, "operator") as journey:

        async def visit(name: str) -> None:
            outcomes.extend(await submit_every_form(journey, name))

        await journey.tour(journey_site, visit)
    submitted = [o for o in outcomes if "submitted" in o or "changed" in o]
    refused = [o for o in outcomes if "refused" in o]
    assert len(submitted) >= 10, outcomes
    assert refused, outcomes  # the command forms need a note: the browser says so


async def test_admin_forms_blank_and_at_defaults(browser: Browser, server: LiveServer) -> None:
    async with journey_of(browser, server, "admin") as journey:
        await journey.nav("Admin")
        outcomes = await submit_every_form(journey, "admin")
    assert any("/admin/tokens" in o for o in outcomes), outcomes
