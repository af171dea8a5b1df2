"""Who acts on alarms, and which alarms a signed-in user may act on."""

from fastapi import HTTPException, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.lifecycle import Actor
from app.auth.service import SignedIn
from app.core.security import client_host


def actor(request: Request, user: SignedIn) -> Actor:
    """Who is acting, from where."""
    return Actor(user.username, client_host(request))


async def check_alarm_visible(session: AsyncSession, user: SignedIn, alarm_id: int) -> None:
    """404 for an alarm that does not exist or sits on a site the user may not see."""
    await check_alarms_visible(session, user, [alarm_id])


async def check_alarms_visible(session: AsyncSession, user: SignedIn, ids: list[int]) -> None:
    """404 naming the first alarm that does not exist or sits on a site the user may not see."""
    found = await session.execute(
        text("SELECT id, site_id FROM alarm WHERE id = ANY(:ids)"), {"ids": ids}
    )
    site_of: dict[int, int] = dict(found.tuples().all())
    for alarm_id in ids:
        site_id = site_of.get(alarm_id)
        if site_id is None or not user.sees(site_id):
            raise HTTPException(404, f"no alarm {alarm_id}")
