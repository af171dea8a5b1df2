"""Chat and paging through Apprise, delivered to a real local HTTP receiver with Apprise's own
json:// scheme; the URL's secrets are never shown back in full, on screens or in the API."""

import json

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.notifications.polling import poll_rows
from tests.notifications.receivers import Hooks, webhook_receiver
from tests.notifications.world import raise_cell_alarm, rule, site_on
from tests.server import LiveServer

CONTACT = "/api/v1/me/notification-contact"
PASSWORD, PATH_TOKEN = "S3cretPassw0rd", "t0kenInThePath"


def apprise_url(receiver: str) -> str:
    """The receiver as an Apprise json:// URL carrying a password and a token in its path."""
    host = receiver.removeprefix("http://").split("/")[0]
    return f"json://pager:{PASSWORD}@{host}/hook/{PATH_TOKEN}"


def messages(hooks: Hooks) -> list[dict[str, str]]:
    """The JSON bodies Apprise posted."""
    return [json.loads(body) for _, body in hooks.snapshot()]


def wait_for(hooks: Hooks, dsn: str, user: int, count: int) -> list[dict[str, str]]:
    """The receiver's messages once the user's Apprise messages are all sent."""
    poll_rows(
        dsn,
        "SELECT state FROM notification_outbox WHERE user_id = %s AND channel = 'apprise'",
        user,
        until=lambda rows: len(rows) == count and all(r[0] == "sent" for r in rows),
    )
    return messages(hooks)


def assert_hidden(text: str) -> None:
    """Neither secret of the URL appears."""
    assert PASSWORD not in text
    assert PATH_TOKEN not in text


async def test_a_test_message_and_an_alarm_reach_an_apprise_url_never_shown_in_full(
    notify_server: LiveServer, notify_engine: AsyncEngine, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    technician = notify_server.client("technician")
    user_id = query_rows(dsn, "SELECT id FROM app_user WHERE username = 'test-technician'")[0][0]
    with webhook_receiver() as (hooks, url):
        saved = technician.put(CONTACT, json={"apprise_url": apprise_url(url)})
        assert saved.status_code == 200, saved.text
        assert_hidden(saved.text)
        host = url.removeprefix("http://").split("/")[0]
        assert saved.json()["apprise_url"] == f"json://pager:****@{host}/…"
        assert_hidden(technician.get(CONTACT).text)
        assert_hidden(technician.get("/notifications").text)
        kept = technician.put(CONTACT, json={"email": "tech@example.com"})  # left out: kept
        assert kept.json()["apprise_url"] == saved.json()["apprise_url"]
        assert technician.post(f"{CONTACT}/test").status_code == 200
        [test] = [m for m in wait_for(hooks, dsn, user_id, 1) if m["title"]]
        assert test["title"] == "Ridethrough test message"
        assert "test message from Ridethrough for test-technician" in test["message"]
        site = await site_on(notify_engine)
        rule(dsn, users=[user_id], channels=["apprise"], sites=[site.site_id])
        await raise_cell_alarm(notify_engine, site)
        alarm = wait_for(hooks, dsn, user_id, 2)[-1]
    assert alarm["title"].startswith("[high] Cell over-voltage")
    assert "Delivery id:" in alarm["message"]
    assert_hidden(notify_server.client("admin").get("/admin/notifications").text)
    audit = query_rows(dsn, "SELECT details::text FROM audit_log WHERE actor = 'test-technician'")
    assert audit
    assert_hidden(" ".join(row[0] for row in audit))


def test_a_url_apprise_cannot_use_is_refused_by_field(notify_server: LiveServer) -> None:
    viewer = notify_server.client("viewer")
    refused = viewer.put(CONTACT, json={"apprise_url": "nonsense://x/y"})
    assert refused.status_code == 422
    assert "apprise_url" in refused.text
    assert "Apprise does not understand this URL" in refused.text
    page = viewer.post("/notifications/contact", data={"apprise_url": "http//broken"})
    assert page.status_code == 422
    assert "apprise_url: Value error, Apprise does not understand this URL" in page.text
    removed = viewer.put(CONTACT, json={"apprise_url": None})
    assert removed.json()["apprise_url"] is None
