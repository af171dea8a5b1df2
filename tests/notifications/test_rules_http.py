"""Who may manage notification rules and contact details, over the API, and what is audited."""

from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.permissions import Access
from app.auth.tokens import create_token
from tests.db import psycopg_dsn, query_rows
from tests.notifications.polling import poll_rows
from tests.notifications.receivers import Mailbox
from tests.notifications.world import site_on
from tests.server import LiveServer
from tests.signin import ensure_user, sign_in

RULES = "/api/v1/notification-rules"
CONTACT = "/api/v1/me/notification-contact"


def a_rule(site: str, *users: str) -> dict[str, object]:
    """A rule body: the site's high-priority raises to the users by e-mail."""
    return {
        "name": "night shift",
        "sites": [site],
        "min_priority": 2,
        "users": list(users),
        "channels": ["email"],
    }


async def test_only_admins_manage_rules_and_every_change_is_audited(
    notify_server: LiveServer, notify_engine: AsyncEngine, notify_db: str
) -> None:
    site = await site_on(notify_engine)
    ensure_user(psycopg_dsn(notify_db), "viewer")
    body = a_rule(site.code, "test-viewer")
    for role in ("viewer", "technician", "operator"):
        client = notify_server.client(role)
        assert client.get(RULES).status_code == 403, role
        assert client.post(RULES, json=body).status_code == 403, role
    admin = notify_server.client("admin")
    created = admin.post(RULES, json=body)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["sites"], rule["users"], rule["events"]) == (
        [site.code],
        ["test-viewer"],
        ["raised"],
    )
    for role in ("viewer", "operator"):
        changed = notify_server.client(role).put(f"{RULES}/{rule['id']}", json=body)
        assert changed.status_code == 403, role
        assert notify_server.client(role).delete(f"{RULES}/{rule['id']}").status_code == 403
    replaced = admin.put(f"{RULES}/{rule['id']}", json={**body, "min_priority": 1})
    assert replaced.json()["min_priority"] == 1
    assert rule["id"] in [r["id"] for r in admin.get(RULES).json()]
    assert admin.delete(f"{RULES}/{rule['id']}").status_code == 204
    assert admin.put(f"{RULES}/{rule['id']}", json=body).status_code == 404
    audit = query_rows(
        psycopg_dsn(notify_db),
        "SELECT actor, action FROM audit_log WHERE target = %s ORDER BY id",
        f"rule {rule['id']}",
    )
    assert audit == [
        ("test-admin", "notification_rule.create"),
        ("test-admin", "notification_rule.update"),
        ("test-admin", "notification_rule.delete"),
    ]


def test_a_rule_naming_what_does_not_exist_is_refused_by_name(notify_server: LiveServer) -> None:
    admin = notify_server.client("admin")
    unknown_site = admin.post(RULES, json=a_rule("no-such-site", "test-admin"))
    assert unknown_site.status_code == 422
    assert "sites: no site 'no-such-site'" in unknown_site.text
    unknown_user = admin.post(RULES, json=a_rule("no-such-site", "nobody-here"))
    assert unknown_user.status_code == 422
    no_channel = admin.post(RULES, json={**a_rule("x", "test-admin"), "channels": []})
    assert no_channel.status_code == 422
    assert "channels" in no_channel.text


async def test_an_admin_of_some_sites_manages_only_rules_of_those(
    notify_server: LiveServer, notify_engine: AsyncEngine, notify_db: str
) -> None:
    mine, theirs = await site_on(notify_engine), await site_on(notify_engine)
    dsn = psycopg_dsn(notify_db)
    ensure_user(dsn, "admin", sites=[mine.site_id], name="site-admin")
    everyone = notify_server.client("admin").post(
        RULES, json={**a_rule(mine.code, "test-admin"), "sites": None}
    )
    assert everyone.status_code == 201
    limited = LiveServer(notify_server.url, notify_server.process, notify_server.database_url)
    limited.signed_in["admin"] = sign_in(notify_server.url, "site-admin")
    client = limited.client("admin")
    assert client.post(RULES, json=a_rule(mine.code, "test-admin")).status_code == 201
    assert client.post(RULES, json=a_rule(theirs.code, "test-admin")).status_code == 403
    assert (
        client.post(RULES, json={**a_rule(mine.code, "test-admin"), "sites": None}).status_code
        == 403
    )
    assert everyone.json()["id"] not in [r["id"] for r in client.get(RULES).json()]
    assert client.delete(f"{RULES}/{everyone.json()['id']}").status_code == 404


async def test_each_person_edits_only_their_own_contact_details(
    notify_server: LiveServer,
    notify_engine: AsyncEngine,
    notify_db: str,
    mail_sink: tuple[Mailbox, int],
) -> None:
    viewer, operator = notify_server.client("viewer"), notify_server.client("operator")
    saved = viewer.put(
        CONTACT, json={"email": "viewer@example.com", "webhook_url": "https://hooks.example/v"}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["webhook_secret"]  # shown once, when made
    assert viewer.get(CONTACT).json() == {
        "email": "viewer@example.com",
        "webhook_url": "https://hooks.example/v",
        "has_webhook_secret": True,
        "apprise_url": None,
        "webhook_secret": None,
    }
    assert operator.get(CONTACT).json()["email"] is None  # the viewer's are not the operator's
    assert operator.put(CONTACT, json={"email": "op@example.com"}).status_code == 200
    assert viewer.get(CONTACT).json()["email"] == "viewer@example.com"
    bad = viewer.put(CONTACT, json={"email": "not an address"})
    assert bad.status_code == 422
    assert "email" in bad.text
    token = await _read_token(notify_engine)
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=notify_server.url, headers=bearer) as as_token:
        refused = await as_token.put(CONTACT, json={"email": "t@example.com"})
    assert refused.status_code == 403
    assert "an API token has no contact details" in refused.text
    dsn = psycopg_dsn(notify_db)
    owners = query_rows(
        dsn,
        "SELECT u.username, c.email FROM notification_contact c "
        "JOIN app_user u ON u.id = c.user_id ORDER BY 1",
    )
    assert ("test-viewer", "viewer@example.com") in owners
    assert ("test-operator", "op@example.com") in owners


async def _read_token(engine: AsyncEngine) -> str:
    async with AsyncSession(engine) as session, session.begin():
        return await create_token(
            session,
            name="reader",
            access=Access.READ,
            site_codes=None,
            days=1,
            created_by="test",
            now=datetime.now(UTC),
        )


def test_a_person_sends_themselves_a_test_message(
    notify_server: LiveServer, notify_db: str, mail_sink: tuple[Mailbox, int]
) -> None:
    technician = notify_server.client("technician")
    nothing = technician.post(f"{CONTACT}/test")
    assert nothing.status_code == 409
    assert "no e-mail address or webhook" in nothing.text
    technician.put(CONTACT, json={"email": "tech@example.com"})
    queued = technician.post(f"{CONTACT}/test")
    assert queued.status_code == 200, queued.text
    (delivery_id,) = queued.json()["delivery_ids"]
    poll_rows(
        psycopg_dsn(notify_db),
        "SELECT 1 FROM notification_outbox WHERE delivery_id = %s AND state = 'sent'",
        delivery_id,
        until=bool,
    )
    mails = [m for to, m in mail_sink[0].snapshot() if to == ["tech@example.com"]]
    assert len(mails) == 1
    assert mails[0]["X-Ridethrough-Delivery"] == delivery_id
    assert mails[0]["Subject"] == "Ridethrough test message"
