"""GET /live: a server-sent event stream telling a page what changed, so htmx can re-fetch it."""

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import StreamingResponse

from app.auth.dependencies import Viewer
from app.live.hub import LiveHub, Subscription
from app.sites.access import visible_site_id

router = APIRouter(include_in_schema=False)

HEARTBEAT_S = 15.0  # keeps proxies from closing an idle stream
COALESCE_S = 0.3  # changes within this window become one event per kind


async def events(subscription: Subscription) -> AsyncIterator[str]:
    """SSE messages: one named event per kind of change, coalesced; heartbeats when idle."""
    yield "retry: 2000\n\n"
    while not subscription.closed:
        try:
            await asyncio.wait_for(subscription.changed.wait(), HEARTBEAT_S)
        except TimeoutError:
            yield ": heartbeat\n\n"
            continue
        await asyncio.sleep(COALESCE_S)
        for kind in sorted(subscription.take()):
            yield f"event: {kind}\ndata: {kind}\n\n"


@router.get("/live")
async def live(request: Request, user: Viewer, site: str | None = None) -> StreamingResponse:
    """Change events for one site (`?site=CODE`) or for every site the user sees."""
    site_id = None
    if site is not None:
        sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
        async with sessionmaker() as session:
            site_id = await visible_site_id(session, user, site)
    hub: LiveHub = request.app.state.live
    subscription = hub.subscribe(user.sites(site_id))

    async def stream() -> AsyncIterator[str]:
        try:
            async for message in events(subscription):
                yield message
        finally:
            hub.unsubscribe(subscription)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
