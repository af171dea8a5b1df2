"""The page event stream follows its session: it ends when the user signs out, and one user may
hold only a few at once (the tuned backend checks every half second and allows three)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx

from tests.auth.conftest import LIVE_STREAMS_PER_USER
from tests.db import psycopg_dsn
from tests.server import LiveServer
from tests.signin import ensure_user, sign_in


async def rest_of(lines: AsyncIterator[str]) -> list[str]:
    """Every line until the server ends the stream."""
    return [line async for line in lines]


async def test_the_stream_ends_when_its_user_signs_out(proxied: LiveServer) -> None:
    user = ensure_user(psycopg_dsn(proxied.database_url), "viewer", name="live-leaver")
    cookies, csrf = sign_in(proxied.url, user)
    async with (
        httpx.AsyncClient(base_url=proxied.url, cookies=cookies, timeout=30) as browser,
        browser.stream("GET", "/live") as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith("retry:")
        signed_out = await browser.post("/logout", data={"csrf_token": csrf})
        assert signed_out.status_code == 303
        rest = await asyncio.wait_for(rest_of(lines), timeout=10)  # ends, not times out
    assert all(not line.startswith("event:") for line in rest)


async def test_one_user_may_hold_only_a_few_streams(proxied: LiveServer) -> None:
    dsn = psycopg_dsn(proxied.database_url)
    cookies, _ = sign_in(proxied.url, ensure_user(dsn, "viewer", name="live-hoarder"))
    neighbour, _ = sign_in(proxied.url, ensure_user(dsn, "viewer", name="live-neighbour"))
    async with (
        httpx.AsyncClient(base_url=proxied.url, cookies=cookies, timeout=30) as browser,
        httpx.AsyncClient(base_url=proxied.url, cookies=neighbour, timeout=30) as other,
        AsyncExitStack() as tabs,
    ):
        first = await tabs.enter_async_context(browser.stream("GET", "/live"))
        for _ in range(LIVE_STREAMS_PER_USER - 1):
            tab = await tabs.enter_async_context(browser.stream("GET", "/live"))
            assert tab.status_code == 200
        refused = await browser.get("/live")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert "live streams open" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) > 0
        async with other.stream("GET", "/live") as theirs:
            assert theirs.status_code == 200  # the cap is per user
        await first.aclose()
        await asyncio.sleep(1.5)  # the server notices a closed stream at its next heartbeat
        async with browser.stream("GET", "/live") as again:
            assert again.status_code == 200
