"""Admin screens over real HTTP: secrets shown once, revocation effective at once, audited."""

import re

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.signin import post_login
from tests.wire import T0, batch, full_site_rows, post_batch

SECRET = re.compile(r'<code class="secret">([^<]+)</code>')


@pytest.fixture
async def device_site(engine: AsyncEngine) -> DeviceSite:
    """A committed site with an edge device."""
    return await committed_device_site(engine)


def test_tokens_are_shown_once_and_revoked_at_once(
    server: LiveServer, device_site: DeviceSite
) -> None:
    admin = server.client("admin")
    form = {
        "name": "historian <b>feed</b>",
        "access": "read",
        "days": "30",
        "sites": [device_site.code],
    }
    made = admin.post("/admin/tokens", data=form)
    assert made.status_code == 200, made.text
    found = SECRET.search(made.text)
    assert found is not None
    secret = found.group(1)
    assert "historian &lt;b&gt;feed&lt;/b&gt;" in made.text  # names are escaped, never markup
    listed = admin.get("/admin").text
    assert secret not in listed  # only the first characters are shown again
    assert secret[:10] in listed
    bearer = {"Authorization": f"Bearer {secret}"}
    sites = httpx.get(f"{server.url}/api/v1/sites", headers=bearer).json()["items"]
    assert [s["code"] for s in sites] == [device_site.code]
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        row = conn.execute(
            "SELECT id FROM api_token WHERE name = %s", ("historian <b>feed</b>",)
        ).fetchone()
        assert row is not None
        # As htmx sends it from the page (the answer is the page's content block alone).
        revoked = admin.post(f"/admin/tokens/{row[0]}/revoke", headers={"HX-Request": "true"})
        assert revoked.status_code == 200
        assert "revoked" in revoked.text
        assert "<html" not in revoked.text
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM audit_log WHERE target = %s ORDER BY id",
                ("historian <b>feed</b>",),
            )
        ]
    assert httpx.get(f"{server.url}/api/v1/sites", headers=bearer).status_code == 401
    assert actions == ["token.create", "token.revoke"]
    again = admin.post("/admin/tokens", data={"name": "historian <b>feed</b>", "access": "read"})
    assert again.status_code == 422
    assert "choose another" in again.text


def test_devices_and_users_from_the_admin_screen(
    server: LiveServer, device_site: DeviceSite
) -> None:
    admin = server.client("admin")
    made = admin.post("/admin/devices", data={"site": device_site.code, "name": "edge-2"})
    found = SECRET.search(made.text)
    assert found is not None
    body = batch(device_site.code, 1, **full_site_rows(T0))
    assert post_batch(server, found.group(1), body).status_code == 200
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        row = conn.execute(
            "SELECT d.id FROM edge_device d JOIN site s ON s.id = d.site_id "
            "WHERE s.code = %s AND d.name = 'edge-2'",
            (device_site.code,),
        ).fetchone()
    assert row is not None
    assert admin.post(f"/admin/devices/{row[0]}/revoke").status_code == 200
    assert post_batch(server, found.group(1), body).status_code == 401
    user = admin.post("/admin/users", data={"username": "night-shift", "role": "viewer"})
    password = SECRET.search(user.text)
    assert password is not None
    with httpx.Client(base_url=server.url) as client:
        signed = post_login(client, "night-shift", password.group(1))
        assert signed.status_code == 303
        assert client.get("/admin").status_code == 403  # a viewer does not manage
    bad = admin.post("/admin/users", data={"username": "x y", "role": "viewer"})
    assert bad.status_code == 422
