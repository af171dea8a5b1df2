"""A short-lived per-process cache of each site's asset map, used on every ingest batch.

The registry changes rarely (site files, announced assets); a batch that names an unknown
asset refreshes the site's entry once before anything is refused, so a new module is accepted
as soon as it is registered.
"""

import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest import repository
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


def names_unknown_asset(batch: Any, assets: SiteAssets) -> bool:
    """Whether a batch addresses a string or module the cached map does not know."""
    for row in batch.modules:
        if isinstance(row, dict) and (row.get("string"), row.get("module")) not in assets.modules:
            return True
    return any(
        isinstance(row, dict) and row.get("string") not in assets.racks for row in batch.strings
    )
