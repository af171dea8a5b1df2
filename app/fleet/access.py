"""A site named in a URL, if the caller may see it: unknown and out-of-scope look the same."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Viewer
from app.auth.service import SignedIn
from app.core.db import SessionDep
from app.fleet.overview import SiteOverview, site_overviews
from app.sites.repository import site_id_by_code


async def visible_site_id(session: AsyncSession, user: SignedIn, code: str) -> int:
    """The site's id, or 404 when there is no such site or the user may not see it."""
    site_id = await site_id_by_code(session, code)
    # The same answer for both, so a scoped user cannot probe which site codes exist.
    if site_id is None or not user.sees(site_id):
        raise HTTPException(404, f"no site with code {code!r}")
    return site_id


@dataclass(frozen=True, slots=True)
class SiteKey:
    """A visible site's id and code: all most API routes need (no overview query)."""

    id: int
    code: str


async def site_key_in_scope(code: str, session: SessionDep, user: Viewer) -> SiteKey:
    """The id of the site in the path, if the caller may see it."""
    return SiteKey(await visible_site_id(session, user, code), code)


async def site_in_scope(code: str, session: SessionDep, user: Viewer) -> SiteOverview:
    """The overview of the site in the path, if the caller may see it."""
    site_id = await visible_site_id(session, user, code)
    return (await site_overviews(session, (site_id,)))[0]


async def chosen_site_id(session: AsyncSession, user: SignedIn, code: str) -> int | None:
    """A site chosen in a filter ('' for none), if visible; the caller narrows with user.sites."""
    return await visible_site_id(session, user, code) if code else None


VisibleSite = Annotated[SiteOverview, Depends(site_in_scope)]
VisibleSiteKey = Annotated[SiteKey, Depends(site_key_in_scope)]
