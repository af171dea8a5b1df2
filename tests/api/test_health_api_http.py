"""The watch-list API over real HTTP: ranked by the real job, paged, scoped, clear errors."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import TokenMaker
from tests.factories import committed_device_site
from tests.health.drifting import site_with_a_drifting_cell
from tests.server import LiveServer


def call(server: LiveServer, path: str, token: str | None = None, **params: Any) -> httpx.Response:
    if token is None:
        return server.http.get(f"{server.url}{path}", params=params)
    return httpx.get(
        f"{server.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}
    )


async def test_the_watch_list_ranks_the_drifting_cell_first_and_pages(
    server: LiveServer, engine: AsyncEngine
) -> None:
    site, last = await site_with_a_drifting_cell(engine)
    path = f"/api/v1/sites/{site.code}/health/watchlist"
    whole = call(server, path, limit=1000).json()
    first = whole["items"][0]
    assert (first["rank"], first["module_id"], first["cell"]) == (1, site.module_ids[0], 5)
    assert (first["string"], first["position"], first["regime"]) == (1, 1, "load")
    assert first["alarm"] is True
    assert first["day"] == last.date().isoformat()
    assert [e["alarm"] for e in whole["items"][1:]] == [False] * (len(whole["items"]) - 1)
    paged, cursor = [], None
    while True:
        body = call(server, path, limit=7, **({"cursor": cursor} if cursor else {})).json()
        paged += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == whole["items"]
    assert len(paged) == len({(e["module_id"], e["cell"]) for e in paged}) > 7
    earlier = call(server, path, day=(last - timedelta(days=1)).date().isoformat()).json()
    assert earlier["items"][0]["day"] == (last - timedelta(days=1)).date().isoformat()


async def test_scope_and_bad_days(
    server: LiveServer, engine: AsyncEngine, make_token: TokenMaker
) -> None:
    site, last = await site_with_a_drifting_cell(engine)
    other = await committed_device_site(engine)
    path = f"/api/v1/sites/{site.code}/health/watchlist"
    elsewhere = await make_token("read", sites=[other.code])
    mine = await make_token("read", sites=[site.code])
    assert call(server, path, elsewhere).status_code == 404
    assert call(server, path, mine).json()["items"][0]["cell"] == 5
    assert call(server, f"/api/v1/sites/{other.code}/health/watchlist").json() == {
        "items": [],
        "next_cursor": None,
    }
    future = call(server, path, day=(last + timedelta(days=3)).date().isoformat())
    assert future.status_code == 422
    (detail,) = future.json()["error"]["details"]
    assert detail["field"] == "query.day"
    assert "not ranked yet" in detail["message"]
    bad = call(server, path, day="31/02/2026")
    assert bad.status_code == 422
    assert "day" in bad.text


async def test_the_fleet_list_merges_the_visible_sites_by_score_and_pages(
    server: LiveServer, engine: AsyncEngine, make_token: TokenMaker
) -> None:
    first, last = await site_with_a_drifting_cell(engine)
    second, _ = await site_with_a_drifting_cell(engine)
    path = "/api/v1/health/watchlist"
    whole = call(server, path, limit=1000).json()["items"]
    # highest score first across sites, then site code and the site's own rank
    assert whole == sorted(whole, key=lambda e: (-e["score"], e["site"], e["rank"]))
    ours = [e for e in whole if e["site"] in (first.code, second.code)]
    tops = [(e["site"], e["rank"], e["cell"], e["alarm"]) for e in ours[:2]]
    assert sorted(tops) == [(first.code, 1, 5, True), (second.code, 1, 5, True)]
    assert {e["day"] for e in ours} == {last.date().isoformat()}
    assert ours[0]["site_name"] in (first.name, second.name)
    paged, cursor = [], None
    while True:
        body = call(server, path, limit=7, **({"cursor": cursor} if cursor else {})).json()
        paged += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == whole
    scoped = await make_token("read", sites=[second.code])
    seen = call(server, path, scoped, limit=1000).json()["items"]
    assert {e["site"] for e in seen} == {second.code}
    assert seen == [e for e in whole if e["site"] == second.code]
    bad = call(server, path, cursor="not-a-cursor")
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "query.cursor"
