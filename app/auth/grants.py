"""What an admin may grant: only the sites they hold, and every site only if they hold every site.

An admin's `scope` is their own list of sites (None: every site). A user, token or edge device
is within an admin's reach when all of its sites are the admin's; anything else is out of reach
and, for a limited admin, does not exist (lists leave it out, actions on it answer 404).
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import SiteIds
from app.sites.repository import site_ids_by_codes


class GrantRefusedError(Exception):
    """An admin asked for more than they hold (403, with the reason)."""


def within(scope: SiteIds, sites: SiteIds) -> bool:
    """Whether `sites` (None: every site) lie wholly among `scope` (None: every site)."""
    if scope is None:
        return True
    return sites is not None and set(sites) <= set(scope)


async def granted_site_ids(
    session: AsyncSession, *, codes: list[str] | None, scope: SiteIds
) -> list[int] | None:
    """The ids of the sites to grant; None (every site) only from an unrestricted admin.

    A site outside the admin's scope reads as unknown (ValueError), as it does everywhere else
    for them, so a limited admin cannot probe for the codes of other sites.
    """
    if not codes:
        if scope is not None:
            raise GrantRefusedError(
                "an admin limited to some sites grants only those: choose one or more of "
                "your sites (only an admin of every site grants every site)"
            )
        return None
    return await site_ids_by_codes(session, codes, scope=scope)
