"""Pages over real HTTP: full page without HX-Request, fragments with it, errors named."""

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
    async with server.async_client() as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["vary"] == "HX-Request, HX-Target"
    assert response.text.startswith("<!doctype html>")
    assert "htmx.min.js" in response.text
    assert f'data-site="{committed_site}"' in response.text
    # Asset names are escaped, never interpreted as markup.
    assert "Fleet &lt;Page&gt; Site" in response.text


async def test_fleet_fragment_for_htmx(server: LiveServer, committed_site: str) -> None:
    async with server.async_client() as client:
        response = await client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    # Navigation fragment: the page title, the content, and the main nav out of band.
    assert response.text.startswith("<title>Fleet · Ridethrough</title>")
    assert '<section id="fleet"' in response.text
    assert 'id="mainnav" aria-label="Main" hx-swap-oob="true"' in response.text
    assert f'data-site="{committed_site}"' in response.text


async def test_a_live_part_refreshes_alone(server: LiveServer, committed_site: str) -> None:
    headers = {"HX-Request": "true", "HX-Target": "fleet_table"}
    async with server.async_client() as client:
        response = await client.get("/", headers=headers, params={"q": committed_site})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="fleet_table"')
    assert "<title>" not in response.text
    assert f'data-site="{committed_site}"' in response.text


async def test_fleet_filter_and_sort(server: LiveServer, committed_site: str) -> None:
    async with server.async_client() as client:
        found = await client.get("/", params={"q": committed_site, "sort": "name", "dir": "desc"})
        missing = await client.get("/", params={"q": "no-such-site-anywhere"})
        offline = await client.get("/", params={"q": committed_site, "state": "normal"})
        bad = await client.get("/", params={"sort": "colour"})
    assert f'data-site="{committed_site}"' in found.text
    assert 'aria-sort="descending"' in found.text
    assert "No site matches these filters." in missing.text
    # A site that never sent data is offline, so a filter for normal sites leaves it out.
    assert f'data-site="{committed_site}"' not in offline.text
    assert bad.status_code == 422


async def test_unknown_page_is_html_for_browsers_and_json_for_api(server: LiveServer) -> None:
    async with server.async_client() as client:
        page = await client.get("/no-such-page", headers={"Accept": "text/html"})
        api = await client.get("/api/v1/no-such-thing")
    assert page.status_code == 404
    assert "<h1>404</h1>" in page.text
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"


async def test_static_vendored_htmx_is_served(server: LiveServer) -> None:
    async with server.async_client() as client:
        response = await client.get("/static/vendor/htmx-2.0.11/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:2000]
