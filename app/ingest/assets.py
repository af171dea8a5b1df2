"""A short-lived per-process cache of each site's asset map, used on every ingest batch.

The registry changes rarely (site files, announced assets); a batch that names an unknown
asset refreshes the site's entry once before anything is refused, so a new module is accepted
as soon as it is registered.
"""

import time

from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest import repository
from app.ingest.asset_map import SiteAssets

TTL_S = 60.0
_cache: dict[int, tuple[float, SiteAssets]] = {}


async def site_assets(session: AsyncSession, site_id: int, *, fresh: bool = False) -> SiteAssets:
    """The site's assets, from the cache unless stale or `fresh` is asked for."""
    cached = _cache.get(site_id)
    if not fresh and cached is not None and cached[0] > time.monotonic():
        return cached[1]
    assets = await repository.site_assets(session, site_id)
    _cache[site_id] = (time.monotonic() + TTL_S, assets)
    return assets
