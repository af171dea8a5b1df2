"""GET /live: a server-sent event stream telling a page what changed, so it can re-fetch it.

Every event carries the time of the newest change it reports as its id, so a browser that
reconnects (sending Last-Event-ID) gets what it missed meanwhile replayed.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import StreamingResponse

from app.auth.dependencies import COOKIE, Viewer
from app.auth.service import SignedIn, session_user
from app.config import Settings
from app.fleet.access import visible_site_id
from app.live.hub import LiveHub, Subscription

router = APIRouter(include_in_schema=False)
RETRY_AFTER_S = 30

COALESCE_S = 0.3  # changes within this window become one event per kind
StillValid = Callable[[], Awaitable[bool]]


async def events(
    subscription: Subscription, still_valid: StillValid, heartbeat_s: float
) -> AsyncIterator[str]:
    """SSE messages: one named event per kind of change, coalesced; heartbeats when idle.

    Before each heartbeat and each event the stream checks its session is still valid, and
    ends when it is not (signed out, disabled, password reset, expired).
    """
    yield "retry: 2000\n\n"
    while not subscription.closed:
        try:
            await asyncio.wait_for(subscription.changed.wait(), heartbeat_s)
        except TimeoutError:
            if not await still_valid():
                return
            yield ": heartbeat\n\n"
            continue
        await asyncio.sleep(COALESCE_S)
        if not await still_valid():
            return
        for kind in sorted(subscription.take()):
            yield f"id: {subscription.last_ms}\nevent: {kind}\ndata: {kind}\n\n"


def session_check(request: Request) -> StillValid:
    """Whether the request's session cookie still signs someone in (asked anew each time)."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    token = request.cookies.get(COOKIE, "")

    async def still_valid() -> bool:
        async with sessionmaker() as session:
            return await session_user(session, token, datetime.now(UTC)) is not None

    return still_valid


def refuse_beyond_cap(hub: LiveHub, user: SignedIn, settings: Settings) -> None:
    """429 when the user already holds as many streams as one user may in this process."""
    cap = settings.live_streams_per_user
    if hub.held_by(user.username) >= cap:
        raise HTTPException(
            429,
            f"{user.username} already has {cap} live streams open, the most one user may; "
            "close a tab or window showing Ridethrough and reload",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


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
    settings: Settings = request.app.state.settings
    refuse_beyond_cap(hub, user, settings)
    subscription = hub.subscribe(user.sites(site_id), owner=user.username)
    resume = _resume_from(since, last_event_id)
    if resume is not None:
        hub.replay(subscription, resume)

    async def stream() -> AsyncIterator[str]:
        try:
            async for message in events(
                subscription, session_check(request), settings.live_heartbeat_s
            ):
                yield message
        finally:
            hub.unsubscribe(subscription)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
