"""The fleet page over real HTTP: full page without HX-Request, fragment with it."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.sites.service import apply_site_config
from tests.factories import site_config
from tests.server import LiveServer


@pytest.fixture
async def committed_site(engine: AsyncEngine) -> str:
    """A site committed to the test database (the live server cannot see rolled-back data)."""
    config = site_config(name="Fleet <Page> Site")
    async with AsyncSession(engine) as session, session.begin():
        await apply_site_config(session, config=config)
    return config.code


async def test_fleet_full_page(server: LiveServer, committed_site: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["vary"] == "HX-Request"
    assert response.text.startswith("<!doctype html>")
    assert "htmx.min.js" in response.text
    assert f'data-site="{committed_site}"' in response.text
    # Asset names are escaped, never interpreted as markup.
    assert "Fleet &lt;Page&gt; Site" in response.text


async def test_fleet_fragment_for_htmx(server: LiveServer, committed_site: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["vary"] == "HX-Request"
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<section id="fleet"')
    assert f'data-site="{committed_site}"' in response.text


async def test_unknown_page_is_html_for_browsers_and_json_for_api(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        page = await client.get("/no-such-page", headers={"Accept": "text/html"})
        api = await client.get("/api/v1/no-such-thing")
    assert page.status_code == 404
    assert "<h1>404</h1>" in page.text
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"


async def test_static_vendored_htmx_is_served(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/static/vendor/htmx-2.0.11/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:2000]
