"""The authorization matrix: every route x every role, and site scoping, over real HTTP.

Each state-changing route is listed with the permission it needs (a new route must be added
here, or the test fails); every other signed-in route needs VIEW. Allowed means any answer but
401/403 (a 404, 409 or 422 about the request itself is fine); denied means 403.
"""

import re
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.permissions import Permission, Role, allows
from tests.auth.test_access_http import DEVICE, PUBLIC, alarmed, every_route
from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.signin import ensure_user, sign_in

__all__ = ["alarmed"]  # the fixture, shared with the access tests

NEEDS = {
    ("POST", "/alarms/{alarm_id}/acknowledge"): Permission.ACKNOWLEDGE,
    ("POST", "/alarms/acknowledge"): Permission.ACKNOWLEDGE,
    ("POST", "/api/v1/alarms/{alarm_id}/acknowledge"): Permission.ACKNOWLEDGE,
    ("POST", "/alarms/{alarm_id}/shelve"): Permission.SHELVE,
    ("POST", "/alarms/{alarm_id}/unshelve"): Permission.SHELVE,
    ("POST", "/sites/{code}/commands/preview"): Permission.COMMAND,
    ("POST", "/sites/{code}/commands/send"): Permission.COMMAND,
    ("POST", "/api/v1/sites/{code}/commands"): Permission.COMMAND,
    ("POST", "/api/v1/sites/{code}/commands/{command_id}/cancel"): Permission.COMMAND,
    ("POST", "/api/v1/sites/{code}/commands/{command_id}/clear"): Permission.COMMAND,
    ("POST", "/sites/{code}/commands/{command_id}/clear"): Permission.COMMAND,
    ("GET", "/admin"): Permission.MANAGE,
    ("POST", "/admin/tokens"): Permission.MANAGE,
    ("POST", "/admin/tokens/{token_id}/revoke"): Permission.MANAGE,
    ("POST", "/admin/devices"): Permission.MANAGE,
    ("POST", "/admin/devices/{device_id}/revoke"): Permission.MANAGE,
    ("POST", "/admin/users"): Permission.MANAGE,
    ("POST", "/admin/users/{user_id}/disable"): Permission.MANAGE,
    ("GET", "/admin/notifications"): Permission.MANAGE,
    ("POST", "/admin/notifications/rules"): Permission.MANAGE,
    ("POST", "/admin/notifications/rules/{rule_id}/delete"): Permission.MANAGE,
    ("GET", "/api/v1/notification-rules"): Permission.MANAGE,
    ("POST", "/api/v1/notification-rules"): Permission.MANAGE,
    ("PUT", "/api/v1/notification-rules/{rule_id}"): Permission.MANAGE,
    ("DELETE", "/api/v1/notification-rules/{rule_id}"): Permission.MANAGE,
    ("POST", "/admin/notifications/rosters"): Permission.MANAGE,
    ("POST", "/admin/notifications/rosters/{roster_id}/delete"): Permission.MANAGE,
    ("GET", "/api/v1/oncall-rosters"): Permission.MANAGE,
    ("POST", "/api/v1/oncall-rosters"): Permission.MANAGE,
    ("PUT", "/api/v1/oncall-rosters/{roster_id}"): Permission.MANAGE,
    ("DELETE", "/api/v1/oncall-rosters/{roster_id}"): Permission.MANAGE,
    # Everyone keeps their own contact details (and only theirs: there is no user id to name).
    ("POST", "/notifications/contact"): Permission.VIEW,
    ("POST", "/notifications/test"): Permission.VIEW,
    ("PUT", "/api/v1/me/notification-contact"): Permission.VIEW,
    ("POST", "/api/v1/me/notification-contact/test"): Permission.VIEW,
}
# Tested on their own: signing in and out would end the shared test sessions.
OWN_TESTS = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
MAINTENANCE = {"kind": "isolate_string", "string": 2, "reason": "maintenance", "note": "fuse"}
BODIES: dict[str, dict[str, Any]] = {
    "/alarms/{alarm_id}/acknowledge": {"data": {"note": "seen"}},
    "/alarms/acknowledge": {"data": {"scope": "shown", "shown": "{alarm}", "note": "seen"}},
    "/api/v1/alarms/{alarm_id}/acknowledge": {"json": {"note": "seen"}},
    "/alarms/{alarm_id}/shelve": {"data": {"minutes": "15", "reason": "sensor swap"}},
    "/sites/{code}/commands/preview": {"data": {**MAINTENANCE, "string": "2"}},
    "/sites/{code}/commands/send": {"data": {**MAINTENANCE, "string": "2"}},
    "/api/v1/sites/{code}/commands": {"json": MAINTENANCE},
    "/api/v1/sites/{code}/commands/{command_id}/clear": {"json": {"reason": "stuck"}},
    "/sites/{code}/commands/{command_id}/clear": {"data": {"reason": "stuck"}},
    "/admin/tokens": {"data": {"name": "matrix-token", "access": "read"}},
    "/admin/devices": {"data": {"site": "{code}", "name": "matrix-edge"}},
    "/admin/users": {"data": {"username": "matrix-user", "role": "viewer"}},
}
MISSING = "999999"  # ids of commands, tokens, devices and users that do not exist


def routes() -> list[tuple[str, str]]:
    """Every route a person or a token reaches (not public, not the edge's)."""
    return [
        (m, p)
        for m, p in every_route()
        if p not in PUBLIC
        and p not in DEVICE
        and not p.startswith("/static")
        and (m, p) not in OWN_TESTS
    ]


def fill(path: str, site: DeviceSite, alarm: int) -> str:
    """The path with real values: the site, its alarm and first module, string 1."""
    values = {
        "code": site.code,
        "alarm_id": str(alarm),
        "module_id": str(site.module_ids[0]),
        "index": "1",
    }
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), MISSING), path)


def status_of(client: httpx.Client, method: str, path: str, site: DeviceSite, alarm: int) -> int:
    """The status a client gets (an event stream is closed as soon as it answers)."""
    named = {"{code}": site.code, "{alarm}": str(alarm)}
    body: dict[str, Any] = {
        k: {f: named.get(v, v) for f, v in fields.items()}
        for k, fields in BODIES.get(path, {}).items()
    }
    url = fill(path, site, alarm)
    if path == "/live":
        with client.stream(method, url, timeout=10) as answer:
            return answer.status_code
    return client.request(method, url, **body).status_code


def test_every_state_changing_route_is_in_the_matrix() -> None:
    unlisted = [(m, p) for m, p in routes() if m != "GET" and (m, p) not in NEEDS]
    assert unlisted == []


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_route_for_every_role(
    server: LiveServer, alarmed: tuple[DeviceSite, int], role: str
) -> None:
    site, alarm = alarmed
    client = server.client(role)
    for method, path in routes():
        needs = NEEDS.get((method, path), Permission.VIEW)
        status = status_of(client, method, path, site, alarm)
        if allows(Role(role), needs):
            assert status not in (401, 403), (role, method, path, status)
            assert status < 500, (role, method, path, status)
        else:
            assert status == 403, (role, method, path, status)


@pytest.fixture
async def own(engine: AsyncEngine) -> DeviceSite:
    """The one site the scoped user may see."""
    return await committed_device_site(engine)


def test_a_user_limited_to_some_sites_sees_only_those(
    server: LiveServer, alarmed: tuple[DeviceSite, int], own: DeviceSite
) -> None:
    site, alarm = alarmed
    username = ensure_user(
        psycopg_dsn(server.database_url), "admin", sites=[own.site_id], name="scoped-admin"
    )
    cookies, csrf = sign_in(server.url, username)
    with httpx.Client(
        base_url=server.url, cookies=cookies, headers={"X-CSRF-Token": csrf}
    ) as client:
        for method, path in routes():
            if "{code}" in path or "{alarm_id}" in path:
                status = status_of(client, method, path, site, alarm)
                assert status == 404, (method, path, status)
        for path in ("/", "/alarms", "/api/v1/sites", "/kpis"):
            text = client.get(path).text
            assert own.code in text, path
            assert site.code not in text, path
        assert client.get("/alarms", params={"site": site.code}).status_code == 404
        assert client.get("/kpis", params={"site": site.code}).status_code == 404
        assert client.get("/api/v1/kpis").json()["mtta"]["count"] == 0
        with client.stream("GET", "/live", params={"site": site.code}) as live:
            assert live.status_code == 404
        assert client.get(f"/sites/{own.code}").status_code == 200
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        row = conn.execute("SELECT state FROM alarm WHERE id = %s", (alarm,)).fetchone()
    assert row is not None  # the hidden site's alarm was left alone by the 404s
