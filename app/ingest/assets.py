"""A short-lived per-process cache of each site's asset map, used on every ingest batch.

The registry changes rarely (site files, announced assets); a batch that names an unknown
asset refreshes the site's entry once before anything is refused, so a new module is accepted
as soon as it is registered.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.ttl_cache import TtlCache
from app.ingest import repository
from app.ingest.asset_map import SiteAssets

TTL_S = 60.0
_cache: TtlCache[int, SiteAssets] = TtlCache(TTL_S)


async def site_assets(session: AsyncSession, site_id: int, *, fresh: bool = False) -> SiteAssets:
    """The site's assets, from the cache unless stale or `fresh` is asked for."""
    return await _cache.get_or_load(
        site_id, lambda: repository.site_assets(session, site_id), fresh=fresh
    )
