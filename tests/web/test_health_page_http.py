"""The battery health page over real HTTP: the ranked list, evidence, definitions, fragment."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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
    # its voltage against the module's median under load while discharging: 27 mV below
    offsets = first_row[first_row.index('class="offsets"') :]
    assert "dashed: the module's median" in offsets
    assert "<polyline" in offsets
    assert '<span class="latest">-27 mV</span>' in offsets
    assert last.strftime("%Y-%m-%d") in page.text
    for term in ("Deviation score (per sample)", "Theil", "CUSUM", "balances"):
        assert term in page.text
    # the weekly self-discharge (nothing balances here: 0 mA) and the alarm's level on screen
    weeks = first_row[first_row.index('class="weeks"') :]
    assert weeks.startswith('class="weeks"><span title="week of ')
    assert 'days">0</span>' in weeks
    assert "Self-discharge by week" in page.text
    assert "is above 20 mA (site setting <code>self_discharge_alarm_ma</code>" in page.text
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


async def test_a_refused_alarm_level_is_shown_where_the_level_would_be(
    server: LiveServer, engine: AsyncEngine
) -> None:
    site = await committed_device_site(engine)
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(
            text(
                'UPDATE site SET settings = \'{"self_discharge_alarm_ma": "high"}\' WHERE id = :s'
            ),
            {"s": site.site_id},
        )
    try:
        page = server.http.get(f"{server.url}/sites/{site.code}/health")
        assert page.status_code == 200
        level = page.text[page.text.index('id="leak-alarm-level"') :]
        assert level.startswith(
            f'id="leak-alarm-level">The site\'s level is refused: site {site.code}: '
            "settings.self_discharge_alarm_ma = &#39;high&#39; is not a positive, finite number"
        )
    finally:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(
                text("UPDATE site SET settings = '{}' WHERE id = :s"), {"s": site.site_id}
            )


async def test_the_fleet_page_ranks_every_visible_sites_cells_by_score(
    server: LiveServer, engine: AsyncEngine
) -> None:
    site, last = await site_with_a_drifting_cell(engine)
    fleet = server.http.get(f"{server.url}/")
    assert 'href="/health"' in fleet.text
    page = server.http.get(f"{server.url}/health")
    assert page.status_code == 200
    table = page.text[page.text.index('id="fleet-watchlist"') :]
    row = table[table.index(f'href="/sites/{site.code}/health"') :]
    row = row[: row.index("</tr>")]
    assert f"{site.name}</a> (#1)" in row
    assert f'href="/sites/{site.code}/modules/{site.module_ids[0]}"' in row
    assert f"module 1 · cell {DRIFTING_CELL}" in row
    assert "above the alarm level" in row
    assert last.strftime("%Y-%m-%d") in row
    scores = [float(cell.split("<")[0]) for cell in table.split('<td class="score">')[1:]]
    assert len(scores) >= 2
    assert scores == sorted(scores, reverse=True)
