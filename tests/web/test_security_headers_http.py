"""Security headers on every kind of answer, over real HTTP: pages, fragments, JSON, static
files, errors and the event stream; no framing anywhere; secrets never cached."""

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer
from tests.wire import batch, full_site_rows, post_batch


@pytest.fixture
async def device_site(engine: AsyncEngine, server: LiveServer) -> DeviceSite:
    """A committed 3-string site with fresh data (so a string may be taken out)."""
    site = await committed_device_site(engine, racks=3)
    rows = full_site_rows(datetime.now(UTC) - timedelta(seconds=2), strings=3)
    assert post_batch(server, site.token, batch(site.code, 1, **rows)).status_code == 200
    return site


def assert_protected(answer: httpx.Response) -> None:
    """The headers every answer carries."""
    headers = answer.headers
    assert headers["X-Frame-Options"] == "DENY", answer.url
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


def test_every_kind_of_answer_carries_the_headers(
    server: LiveServer, device_site: DeviceSite
) -> None:
    http = server.http
    confirm = http.post(
        f"/sites/{device_site.code}/commands/preview",
        data={"kind": "isolate_string", "string": "1", "reason": "maintenance", "note": "fuse"},
    )
    answers = [
        http.get("/"),
        http.get(f"/sites/{device_site.code}", headers={"HX-Request": "true"}),
        confirm,  # the two-step command confirmation: it must not be framable
        http.get("/api/v1/sites"),
        http.get("/static/js/app.js"),
        http.get("/sites/no-such-site", headers={"Accept": "text/html"}),
        httpx.get(f"{server.url}/login"),
        httpx.get(f"{server.url}/healthz"),
    ]
    for answer in answers:
        assert_protected(answer)
    assert confirm.status_code == 200, confirm.text
    with http.stream("GET", "/live") as live:
        assert live.status_code == 200
        assert live.headers["content-type"].startswith("text/event-stream")
        assert_protected(live)


def test_pages_allow_only_the_apps_own_scripts_and_styles(server: LiveServer) -> None:
    page = server.http.get("/")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-eval" not in policy
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script to allow
    assert "<style" not in page.text


def test_the_api_docs_may_load_swagger_but_not_be_framed(server: LiveServer) -> None:
    docs = httpx.get(f"{server.url}/api/docs")
    assert docs.status_code == 200
    assert_protected(docs)
    assert "https://cdn.jsdelivr.net" in docs.headers["Content-Security-Policy"]


def test_a_new_secret_is_never_stored(server: LiveServer) -> None:
    made = server.client("admin").post("/admin/tokens", data={"name": "no-store", "access": "read"})
    assert 'class="secret"' in made.text
    assert made.headers["Cache-Control"] == "no-store"
    assert server.client("admin").get("/admin").headers["Cache-Control"] == "no-store"
