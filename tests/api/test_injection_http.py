"""Markup in names and notes is rendered as text; filters are never SQL."""

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.db import psycopg_dsn
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import T0, batch, event, full_site_rows, post_batch

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE alarm; --",
    "\\'; SELECT pg_sleep(5); --",
    "%' UNION SELECT password_hash FROM app_user --",
]


@pytest.fixture
async def marked(engine: AsyncEngine, server: LiveServer) -> tuple[DeviceSite, int]:
    """A site whose name is markup, with an alarm acknowledged with a markup note."""
    site = await committed_device_site(engine, name=MARKUP)
    body = batch(site.code, 1, **full_site_rows(T0))
    body["events"] = [event("fault_raised", 0.5, 1, 2, "cell_ov_warning")]
    assert post_batch(server, site.token, body).status_code == 200
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        row = conn.execute("SELECT id FROM alarm WHERE site_id = %s", (site.site_id,)).fetchone()
    assert row is not None
    acked = server.http.post(f"{server.url}/alarms/{row[0]}/acknowledge", data={"note": MARKUP})
    assert acked.status_code in (204, 303)
    return site, row[0]


def test_names_and_notes_are_escaped_on_every_page(
    server: LiveServer, marked: tuple[DeviceSite, int]
) -> None:
    site, _ = marked
    for path in (
        "/",
        f"/sites/{site.code}",
        "/alarms?state=acked",
        f"/sites/{site.code}/faults",
        "/kpis",
        f"/sites/{site.code}/strings/1",
        "/admin",
    ):
        page = server.client("admin").get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path
        assert "onerror=alert(1)>" not in page.text.replace(ESCAPED, ""), path
    assert ESCAPED in server.http.get(f"{server.url}/alarms", params={"state": "acked"}).text
    assert ESCAPED in server.http.get(f"{server.url}/sites/{site.code}").text


def test_filters_are_not_sql(server: LiveServer, marked: tuple[DeviceSite, int]) -> None:
    site, _ = marked
    http = server.http
    for text in INJECTIONS:
        fleet = http.get(f"{server.url}/", params={"q": text})
        assert fleet.status_code == 200
        assert site.code not in fleet.text  # the search matched nothing, literally
        faults = http.get(f"{server.url}/sites/{site.code}/faults", params={"q": text})
        assert faults.status_code == 200
        assert "cell_ov_warning" not in faults.text.split("<main", 1)[1].split("</form>", 1)[1]
        fields = http.get(
            f"{server.url}/api/v1/sites/{site.code}/telemetry", params={"fields": text}
        )
        assert fields.status_code == 422
        assert fields.json()["error"]["details"][0]["field"] == "query.fields"
        for path, param in (
            ("alarms", "priority"),
            ("alarms", "state"),
            ("telemetry", "string"),
            ("telemetry", "start"),
            ("export", "layout"),
        ):
            answer = http.get(f"{server.url}/api/v1/sites/{site.code}/{path}", params={param: text})
            assert answer.status_code == 422, (path, param)
            assert answer.json()["error"]["details"][0]["field"] == f"query.{param}"
        assert http.get(f"{server.url}/api/v1/sites/{text}").status_code == 404
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        alarms = conn.execute(
            "SELECT count(*) FROM alarm WHERE site_id = %s", (site.site_id,)
        ).fetchone()
    assert alarms == (1,)  # nothing dropped, nothing changed
