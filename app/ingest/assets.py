"""A short-lived per-process cache of each site's asset map, used on every ingest batch.

The registry changes rarely (site files, announced assets); a batch that names an unknown
asset refreshes the site's entry once before anything is refused, so a new module is accepted
as soon as it is registered.
"""

import time

from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest import repository
from app.ingest.parsing import ParsedBatch
from app.ingest.validation import SiteAssets

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


def names_unknown_asset(batch: ParsedBatch, assets: SiteAssets) -> bool:
    """Whether a batch addresses a string or module the cached map does not know."""
    known_modules, known_racks = assets.modules, assets.racks
    return any((row.string, row.module) not in known_modules for _, row in batch.modules) or any(
        row.string not in known_racks for _, row in batch.strings
    )
