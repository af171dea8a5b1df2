"""The notification screens over real HTTP: full pages, htmx fragments, forms, who may."""

import re

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notifications.world import site_on
from tests.server import LiveServer

SECRET = re.compile(r'<code class="secret">([^<]+)</code>')
ADMIN_PAGE = "/admin/notifications"


def test_the_rules_page_is_an_admins_whole_page_and_htmx_fragment(
    notify_server: LiveServer,
) -> None:
    admin = notify_server.client("admin")
    page = admin.get(ADMIN_PAGE)
    assert page.status_code == 200
    assert page.text.startswith("<!doctype html>")
    assert '<h2 id="rules-heading">Rules</h2>' in page.text
    fragment = admin.get(ADMIN_PAGE, headers={"HX-Request": "true"})
    assert fragment.text.startswith("<title>Notifications · Ridethrough</title>")
    assert "<html" not in fragment.text
    assert '<h2 id="outbox-heading">' in fragment.text
    for role in ("viewer", "operator"):
        assert notify_server.client(role).get(ADMIN_PAGE).status_code == 403


async def test_an_admin_adds_and_deletes_a_rule_with_the_form(
    notify_server: LiveServer, notify_engine: AsyncEngine
) -> None:
    site = await site_on(notify_engine)
    admin = notify_server.client("admin")
    form = {
        "name": "pager <b>duty</b>",
        "sites": [site.code],
        "min_priority": "2",
        "codes": "site_offline, cell_ov_alarm",
        "events": ["raised", "cleared"],
        "users": ["test-admin"],
        "channels": ["email", "webhook"],
    }
    added = admin.post(f"{ADMIN_PAGE}/rules", data=form)
    assert added.status_code == 200, added.text
    assert "rule &#39;pager &lt;b&gt;duty&lt;/b&gt;&#39; added" in added.text  # escaped
    row = re.search(r'<tr data-rule="(\d+)"><td>pager &lt;b&gt;duty', added.text)
    assert row is not None
    assert "site_offline, cell_ov_alarm" in added.text
    no_one = admin.post(f"{ADMIN_PAGE}/rules", data={**form, "users": []})
    assert no_one.status_code == 422
    assert "users, rosters: name at least one user or on-call roster" in no_one.text
    deleted = admin.post(f"{ADMIN_PAGE}/rules/{row.group(1)}/delete")
    assert "deleted" in deleted.text
    assert f'data-rule="{row.group(1)}"' not in deleted.text


def test_a_person_keeps_their_contact_details_on_their_page(notify_server: LiveServer) -> None:
    viewer = notify_server.client("viewer")
    page = viewer.get("/notifications")
    assert page.status_code == 200
    assert 'aria-current="page">Notifications</a>' in page.text
    fragment = viewer.get("/notifications", headers={"HX-Request": "true"})
    assert fragment.text.startswith("<title>Your notifications · Ridethrough</title>")
    form = {"email": "v2@example.com", "webhook_url": "https://hooks.example/page"}
    saved = viewer.post("/notifications/contact", data=form)
    found = SECRET.search(saved.text)
    assert found is not None  # the new key, this once
    again = viewer.get("/notifications").text
    assert found.group(1) not in again
    assert 'value="v2@example.com"' in again
    bad = viewer.post("/notifications/contact", data={"email": "nope"})
    assert bad.status_code == 422
    assert "email: String should match pattern" in bad.text
    queued = viewer.post("/notifications/test")
    assert "2 test message(s) queued" in queued.text


def test_an_admin_adds_a_roster_with_the_form_and_sees_who_is_on_call(
    notify_server: LiveServer,
) -> None:
    admin = notify_server.client("admin")
    every_hour = "\n".join(
        f"{day} 00:00-12:00 test-admin\n{day} 12:00-00:00 test-admin"
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    form = {"name": "always me", "time_zone": "Pacific/Chatham", "shifts": every_hour}
    added = admin.post(f"{ADMIN_PAGE}/rosters", data=form)
    assert added.status_code == 200, added.text
    assert "roster &#39;always me&#39; added" in added.text
    assert '<td class="on-call">test-admin</td>' in added.text
    bad_lines = {
        "": "shifts: List should have at least 1 item",
        "someday 10:00 to 11:00": "shifts line 1: &#39;someday 10:00 to 11:00&#39; is not",
        "mon 10:00-11:00 test-admin\nfunday 10:00-11:00 x": "shifts line 2: weekday",
        "mon 10:00-10:00 test-admin": "shifts[0]: starts and ends are both 10:00",
    }
    for shifts, said in bad_lines.items():
        refused = admin.post(
            f"{ADMIN_PAGE}/rosters", data={**form, "name": "other", "shifts": shifts}
        )
        assert refused.status_code == 422, shifts
        assert said in refused.text, (shifts, refused.text[-3000:])
    blank = admin.post(f"{ADMIN_PAGE}/rosters", data={})
    assert blank.status_code == 422
    assert "name: String should have at least 1 character" in blank.text
    row = re.search(r'<tr data-roster="(\d+)"><td>always me', added.text)
    assert row is not None
    deleted = admin.post(f"{ADMIN_PAGE}/rosters/{row.group(1)}/delete")
    assert f'data-roster="{row.group(1)}"' not in deleted.text
