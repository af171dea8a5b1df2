"""Which sites a query covers: some site ids, or None for every site."""

from collections.abc import Sequence

SiteIds = Sequence[int] | None


def narrow(allowed: SiteIds, site_id: int | None) -> SiteIds:
    """The sites a query should cover: one chosen site, else every site the caller may see."""
    if site_id is not None:
        return (site_id,)
    return allowed
