"""GET /live: a server-sent event stream telling a page what changed, so it can re-fetch it.

Every event carries the time of the newest change it reports as its id, so a browser that
reconnects (sending Last-Event-ID) gets what it missed meanwhile replayed.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
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
            yield f"id: {subscription.last_ms}\nevent: {kind}\ndata: {kind}\n\n"


def _resume_from(since: int | None, last_event_id: str | None) -> int | None:
    """From when the stream needs changes: its last event seen, else when its page was asked for."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id)
    return since


@router.get("/live")
async def live(
    request: Request,
    user: Viewer,
    site: str | None = None,
    since: Annotated[int | None, Query(ge=0, description="epoch ms the page was requested")] = None,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Change events for one site (`?site=CODE`) or for every site the user sees."""
    site_id = None
    if site is not None:
        sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
        async with sessionmaker() as session:
            site_id = await visible_site_id(session, user, site)
    hub: LiveHub = request.app.state.live
    subscription = hub.subscribe(user.sites(site_id))
    resume = _resume_from(since, last_event_id)
    if resume is not None:
        hub.replay(subscription, resume)

    async def stream() -> AsyncIterator[str]:
        try:
            async for message in events(subscription):
                yield message
        finally:
            hub.unsubscribe(subscription)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
