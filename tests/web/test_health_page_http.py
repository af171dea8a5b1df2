"""The battery health page over real HTTP: the ranked list, evidence, definitions, fragment."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import committed_device_site
from tests.health.drifting import DRIFTING_CELL, site_with_a_drifting_cell
from tests.server import LiveServer


async def test_the_page_ranks_the_drifting_cell_with_its_evidence(
    server: LiveServer, engine: AsyncEngine
) -> None:
    site, last = await site_with_a_drifting_cell(engine)
    page = server.http.get(f"{server.url}/sites/{site.code}/health")
    assert page.status_code == 200
    table = page.text[page.text.index('id="watchlist"') :]
    body = table.index("<tbody>")
    first_row = table[body : table.index("</tr>", body)]
    assert f"module 1 · cell {DRIFTING_CELL}" in first_row
    assert f'href="/sites/{site.code}/modules/{site.module_ids[0]}"' in first_row
    assert "above the alarm level" in first_row
    assert "<polyline" in first_row  # the score history
    assert last.strftime("%Y-%m-%d") in page.text
    for term in ("Deviation score (per sample)", "Theil", "CUSUM", "balances"):
        assert term in page.text
    site_page = server.http.get(f"{server.url}/sites/{site.code}")
    assert f'href="/sites/{site.code}/health"' in site_page.text
    kpis = server.http.get(f"{server.url}/kpis", params={"site": site.code})
    assert f'href="/sites/{site.code}/health"' in kpis.text


async def test_the_fragment_and_a_site_without_a_ranking(
    server: LiveServer, engine: AsyncEngine
) -> None:
    site = await committed_device_site(engine)
    fragment = server.http.get(
        f"{server.url}/sites/{site.code}/health", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="watch-empty"' in fragment.text
    assert fragment.headers["Vary"].lower().count("hx-request") == 1
    assert server.http.get(f"{server.url}/sites/nowhere/health").status_code == 404
