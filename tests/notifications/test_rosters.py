"""On-call rosters over the API and on the admin page: only admins of every site change them,
every change is audited, and bad ones are refused by field (their use as recipients is in
test_oncall_escalation.py)."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn, query_rows
from tests.notifications.world import site_on
from tests.server import LiveServer
from tests.signin import ensure_user, sign_in

ROSTERS = "/api/v1/oncall-rosters"
RULES = "/api/v1/notification-rules"
# Office hours in Berlin for one user, the rest of Monday night for another.
SHIFTS = [
    {"weekday": "mon", "starts": "09:00", "ends": "17:00", "user": "test-operator"},
    {"weekday": "mon", "starts": "17:00", "ends": "09:00", "user": "test-viewer"},
]


def test_only_admins_manage_rosters_and_every_change_is_audited(
    notify_server: LiveServer, notify_db: str
) -> None:
    dsn = psycopg_dsn(notify_db)
    for role in ("viewer", "operator"):
        ensure_user(dsn, role)
    body = {"name": "berlin desk", "time_zone": "Europe/Berlin", "shifts": SHIFTS}
    for role in ("viewer", "technician", "operator"):
        client = notify_server.client(role)
        assert client.get(ROSTERS).status_code == 403, role
        assert client.post(ROSTERS, json=body).status_code == 403, role
    admin = notify_server.client("admin")
    created = admin.post(ROSTERS, json=body)
    assert created.status_code == 201, created.text
    roster = created.json()
    assert roster["shifts"] == SHIFTS
    assert admin.post(ROSTERS, json=body).status_code == 409  # the name is taken
    assert notify_server.client("operator").delete(f"{ROSTERS}/{roster['id']}").status_code == 403
    moved = admin.put(f"{ROSTERS}/{roster['id']}", json={**body, "time_zone": "Asia/Tokyo"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["time_zone"] == "Asia/Tokyo"
    ruled = admin.post(
        RULES,
        json={"name": "desk", "rosters": ["berlin desk"], "channels": ["email"]},
    )
    assert ruled.status_code == 201, ruled.text
    assert (ruled.json()["rosters"], ruled.json()["users"]) == (["berlin desk"], [])
    assert admin.delete(f"{ROSTERS}/{roster['id']}").status_code == 204
    assert admin.get(f"{RULES}").json()[-1]["rosters"] == []  # the rule stops naming it
    assert admin.put(f"{ROSTERS}/{roster['id']}", json=body).status_code == 404
    audit = query_rows(
        dsn,
        "SELECT actor, action FROM audit_log WHERE target = %s ORDER BY id",
        f"roster {roster['id']}",
    )
    assert [action for _, action in audit] == [
        "oncall_roster.create",
        "oncall_roster.update",
        "oncall_roster.delete",
    ]


def test_a_bad_roster_or_rule_is_refused_naming_the_field_and_value(
    notify_server: LiveServer,
) -> None:
    admin = notify_server.client("admin")
    good: dict[str, object] = {"name": "checks", "time_zone": "Europe/Berlin", "shifts": SHIFTS}
    cases: list[tuple[dict[str, object], str]] = [
        ({"time_zone": "Mars/Olympus"}, "time_zone: 'Mars/Olympus' is not an IANA time zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"shifts": [{**SHIFTS[0], "user": "nobody-here"}]}, "shifts[0].user: no enabled user"),
        ({"shifts": [{**SHIFTS[0], "ends": "09:00"}]}, "shifts[0]: starts and ends are both 09:00"),
        ({"shifts": [{**SHIFTS[0], "weekday": "funday"}]}, "weekday"),
        ({"shifts": [{**SHIFTS[0], "starts": "25:00"}]}, "starts"),
        ({"shifts": []}, "shifts"),
    ]
    for change, said in cases:
        answer = admin.post(ROSTERS, json={**good, **change})
        assert answer.status_code == 422, (change, answer.text)
        assert said in answer.text, (change, answer.text)
    nobody = admin.post(RULES, json={"name": "x", "channels": ["email"]})
    assert nobody.status_code == 422
    assert "name at least one user or on-call roster" in nobody.text
    unknown = admin.post(RULES, json={"name": "x", "rosters": ["no-such"], "channels": ["email"]})
    assert unknown.status_code == 422
    assert "rosters: no on-call roster 'no-such'" in unknown.text


async def test_an_admin_of_some_sites_reads_rosters_but_does_not_change_them(
    notify_server: LiveServer, notify_engine: AsyncEngine, notify_db: str
) -> None:
    mine = await site_on(notify_engine)
    dsn = psycopg_dsn(notify_db)
    ensure_user(dsn, "operator")
    ensure_user(dsn, "viewer")
    ensure_user(dsn, "admin", sites=[mine.site_id], name="roster-site-admin")
    body = {"name": "everyone's", "time_zone": "UTC", "shifts": SHIFTS}
    made = notify_server.client("admin").post(ROSTERS, json=body)
    assert made.status_code == 201, made.text
    limited = LiveServer(notify_server.url, notify_server.process, notify_server.database_url)
    limited.signed_in["admin"] = sign_in(notify_server.url, "roster-site-admin")
    client = limited.client("admin")
    assert made.json()["id"] in [r["id"] for r in client.get(ROSTERS).json()]
    refused = client.post(ROSTERS, json={**body, "name": "mine"})
    assert refused.status_code == 403
    assert "only an admin of every site" in refused.text
    assert client.put(f"{ROSTERS}/{made.json()['id']}", json=body).status_code == 403
    assert client.delete(f"{ROSTERS}/{made.json()['id']}").status_code == 403
    page = client.get("/admin/notifications")
    assert 'action="/admin/notifications/rosters"' not in page.text
