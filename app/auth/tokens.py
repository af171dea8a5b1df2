"""API tokens for integrators: created by an admin, shown once, stored as a hash, revocable."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.grants import granted_site_ids
from app.auth.permissions import TOKEN_ROLE, Access
from app.auth.service import SignedIn
from app.core.scope import SiteIds
from app.core.security import hash_token, new_token

TOKEN_PREFIX = "rta_"  # noqa: S105 - a public prefix; edge device tokens start 'rte_'
SHOWN_PREFIX = 10  # characters kept in clear to tell tokens apart in lists
MAX_DAYS = 366
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per token per minute


class TokenError(Exception):
    """A token that cannot be used, and why (unknown, revoked, expired)."""


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as the admin screen and the CLI list it (never the secret)."""

    id: int
    name: str
    prefix: str
    access: str
    site_codes: list[str] | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def status(self, now: datetime) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


async def create_token(
    session: AsyncSession,
    *,
    name: str,
    access: Access,
    site_codes: list[str] | None,
    days: int,
    created_by: str,
    now: datetime,
    scope: SiteIds = None,
) -> str:
    """A new token; the returned secret is shown once and only its hash is kept.

    `scope` is the creating admin's sites (None: every site); the token gets no more.
    """
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days: {days} is outside 1…{MAX_DAYS}; tokens must expire")
    name = name.strip()
    if not name:
        raise ValueError("name: a token needs a name that says who uses it")
    taken = await session.execute(text("SELECT 1 FROM api_token WHERE name = :n"), {"n": name})
    if taken.first():
        raise ValueError(
            f"name: a token named {name!r} exists (revoked tokens keep their names, for the "
            "audit trail); choose another"
        )
    site_ids = await granted_site_ids(session, codes=site_codes, scope=scope)
    secret = new_token(TOKEN_PREFIX)
    await session.execute(
        text(
            "INSERT INTO api_token (name, token_hash, prefix, access, site_ids, created_by, "
            "expires_at) VALUES (:name, :hash, :prefix, :access, :sites, :by, :expires)"
        ),
        {
            "name": name,
            "hash": hash_token(secret),
            "prefix": secret[:SHOWN_PREFIX],
            "access": access.value,
            "sites": site_ids,
            "by": created_by,
            "expires": now + timedelta(days=days),
        },
    )
    details = {"access": access.value, "sites": site_codes, "days": days}
    audit.record(session, actor=created_by, action="token.create", target=name, details=details)
    return secret


# A NULL :scope is an admin of every site; else only tokens whose sites are all in it.
IN_SCOPE = (
    "(CAST(:scope AS int[]) IS NULL OR "
    "(t.site_ids IS NOT NULL AND t.site_ids <@ CAST(:scope AS int[])))"
)
REVOKE = text(f"""
UPDATE api_token t SET revoked_at = :now WHERE t.id = :id AND t.revoked_at IS NULL
AND {IN_SCOPE} RETURNING t.name
""")  # noqa: S608 - IN_SCOPE is a constant


async def revoke_token(
    session: AsyncSession, token_id: int, *, by: str, now: datetime, scope: SiteIds = None
) -> str:
    """Revoke a token at once; returns its name. ValueError if unknown, revoked or out of scope."""
    params = {"id": token_id, "now": now, "scope": None if scope is None else list(scope)}
    name = (await session.execute(REVOKE, params)).scalar()
    if name is None:
        raise ValueError(f"no active token with id {token_id}")
    audit.record(session, actor=by, action="token.revoke", target=name)
    return str(name)


LIST = text(f"""
SELECT t.id, t.name, t.prefix, t.access,
       (SELECT array_agg(s.code ORDER BY s.code) FROM site s WHERE s.id = ANY(t.site_ids)),
       t.created_by, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
FROM api_token t WHERE {IN_SCOPE} ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC
""")  # noqa: S608 - IN_SCOPE is a constant


async def list_tokens(session: AsyncSession, *, scope: SiteIds = None) -> list[TokenView]:
    """The tokens within an admin's scope, active first, newest first."""
    rows = await session.execute(LIST, {"scope": None if scope is None else list(scope)})
    return [TokenView(*row) for row in rows]


LOOKUP = text("""
SELECT id, name, access, site_ids, expires_at, revoked_at, last_used_at
FROM api_token WHERE token_hash = :hash
""")


async def token_user(session: AsyncSession, secret: str, now: datetime) -> SignedIn:
    """Who a token acts as; TokenError says why it cannot be used."""
    row = (await session.execute(LOOKUP, {"hash": hash_token(secret)})).first()
    if row is None:
        raise TokenError("unknown API token")
    token_id, name, access, site_ids, expires_at, revoked_at, last_used_at = row
    if revoked_at is not None:
        raise TokenError(f"API token {name!r} was revoked")
    if expires_at <= now:
        raise TokenError(f"API token {name!r} expired at {expires_at.isoformat()}")
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        await session.execute(
            text("UPDATE api_token SET last_used_at = :now WHERE id = :id"),
            {"now": now, "id": token_id},
        )
    sites = None if site_ids is None else tuple(site_ids)
    return SignedIn(token_id, f"token:{name}", TOKEN_ROLE[Access(access)], sites, None)
