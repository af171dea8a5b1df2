"""Access control over real HTTP: nothing anonymous beyond a short list, a role matrix for
every kind of change, CSRF on every state-changing browser request, and sign-in hygiene."""

import re
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.dependencies import COOKIE
from app.main import OWN_ACCESS_ROUTERS, SIGNED_IN_ROUTERS
from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.signin import CSRF, ensure_user, post_login
from tests.wire import T0, batch, event, full_site_rows, post_batch

# Reachable without a user: probes, the login page, static files, the API docs, and the edge's
# endpoints (which need a device token instead: checked below to answer 401 without one).
PUBLIC = {
    "/healthz",
    "/readyz",
    "/login",
    "/static",
    "/api/docs",
    "/api/openapi.json",
    "/api/docs/oauth2-redirect",
}
DEVICE = {
    "/api/v1/ingest",
    "/api/v1/edge/commands",
    "/api/v1/edge/commands/{command_id}/result",
    "/api/v1/edge/policy-actions",
}


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every route of every router the app includes."""
    return sorted(
        {
            (method, route.path)
            for router in (*OWN_ACCESS_ROUTERS, *SIGNED_IN_ROUTERS)
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
            if method != "HEAD"
        }
    )


def concrete(path: str) -> str:
    """A path with placeholder values for its parameters."""
    return re.sub(r"\{[^}]+\}", "1", path).replace("/sites/1", "/sites/somewhere")


@pytest.mark.parametrize(("method", "path"), every_route())
def test_nothing_is_reachable_anonymously_but_the_public_list(
    server: LiveServer, method: str, path: str
) -> None:
    if path in PUBLIC or path.startswith("/static"):
        return
    answer = httpx.request(method, f"{server.url}{concrete(path)}", follow_redirects=False)
    if path in DEVICE:
        assert answer.status_code == 401, answer.text
        assert "device token" in answer.text
    elif path.startswith("/api/") or path == "/live":
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
    else:
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/login?next=")


@pytest.fixture
async def alarmed(engine: AsyncEngine, server: LiveServer) -> tuple[DeviceSite, int]:
    """A 3-string site with fresh data and one standing alarm; (site, alarm id)."""
    site = await committed_device_site(engine, racks=3)
    body = batch(site.code, 1, **full_site_rows(T0, strings=3))
    body["events"] = [event("fault_raised", 0.5, 1, 2, "cell_ov_warning")]
    assert post_batch(server, site.token, body).status_code == 200
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        row = conn.execute("SELECT id FROM alarm WHERE site_id = %s", (site.site_id,)).fetchone()
    assert row is not None
    return site, row[0]


def attempt(server: LiveServer, role: str, method: str, path: str, **kw: Any) -> int:
    """The status a role gets for one request (with its CSRF token)."""
    return server.client(role).request(method, f"{server.url}{path}", **kw).status_code


DENIED = 403


async def test_the_role_matrix(server: LiveServer, alarmed: tuple[DeviceSite, int]) -> None:
    site, alarm = alarmed
    isolate = {"kind": "isolate_string", "string": 3, "reason": "maintenance", "note": "fuse"}
    derate = {"kind": "derate", "string": 2, "pct": 50, "reason": "fault", "note": "hot"}
    commands = f"/api/v1/sites/{site.code}/commands"
    cases = {  # request -> roles that may make it
        ("GET", f"/sites/{site.code}", None): {"viewer", "technician", "operator", "admin"},
        ("POST", f"/alarms/{alarm}/acknowledge", "form"): {"technician", "operator", "admin"},
        ("POST", f"/alarms/{alarm}/shelve", "shelve"): {"operator", "admin"},
        ("POST", commands, "isolate"): {"technician", "operator", "admin"},
        ("POST", commands, "derate"): {"operator", "admin"},
    }
    bodies: dict[str | None, dict[str, Any]] = {
        None: {},
        "form": {"data": {"note": "seen"}},
        "shelve": {"data": {"minutes": "15", "reason": "sensor swap"}},
        "isolate": {"json": isolate},
        "derate": {"json": derate},
    }
    for (method, path, body), allowed in cases.items():
        for role in ("viewer", "technician", "operator", "admin"):
            status = attempt(server, role, method, path, **bodies[body])
            if role in allowed:  # allowed: anything but a refusal of access (409 is fine)
                assert status not in (401, DENIED), (role, method, path, status)
            else:
                assert status == DENIED, (role, method, path, status)
    refused = server.client("technician").post(f"{server.url}{commands}", json=derate)
    assert "for maintenance only" in refused.json()["error"]["message"]


async def test_state_changes_need_the_csrf_token(
    server: LiveServer, alarmed: tuple[DeviceSite, int]
) -> None:
    site, alarm = alarmed
    cookies, csrf = server.credentials("operator")
    async with httpx.AsyncClient(base_url=server.url, cookies=cookies) as bare:
        forged = await bare.post(f"/alarms/{alarm}/acknowledge", data={"note": "from elsewhere"})
        assert forged.status_code == DENIED
        assert "CSRF" in forged.text
        command = {"kind": "reset_alarms", "string": 1, "reason": "maintenance", "note": "reset"}
        queued = await bare.post(f"/api/v1/sites/{site.code}/commands", json=command)
        assert queued.status_code == DENIED
        with_field = await bare.post(
            f"/alarms/{alarm}/acknowledge", data={"note": "plain form", "csrf_token": csrf}
        )
        assert with_field.status_code == 303  # a plain form post goes back to the list


def test_sign_in_cookie_and_sign_out(server: LiveServer) -> None:
    username = ensure_user(psycopg_dsn(server.database_url), "viewer", name="fresh-viewer")
    with httpx.Client(base_url=server.url) as client:
        wrong = post_login(client, username, "not it")
        assert wrong.status_code == 401
        assert "wrong username or password" in wrong.text
        answer = post_login(client, username, next="https://evil.example/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"  # never a redirect off the site
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(COOKIE))
        assert "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        page = client.get("/")
        assert page.status_code == 200
        csrf = CSRF.search(page.text)
        assert csrf is not None
        assert client.post("/logout", data={"csrf_token": csrf.group(1)}).status_code == 303
        assert client.get("/", follow_redirects=False).status_code == 303  # the session is gone
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        actions = [
            row[0]
            for row in conn.execute(
                "SELECT action FROM audit_log WHERE actor = %s ORDER BY id", (username,)
            )
        ]
    assert actions == ["auth.login_failed", "auth.login", "auth.logout"]
