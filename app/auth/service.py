"""Sign-in, sessions and users: the SQL behind the login page, the cookie and the CLI."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.auth.passwords import hash_password, verify_password
from app.auth.permissions import Role
from app.core.scope import SiteIds
from app.core.security import hash_token
from app.sites.repository import site_ids_by_codes

SESSION_LIFETIME = timedelta(hours=12)  # one shift
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20


class LoginThrottledError(Exception):
    """Too many failed attempts lately; the message says for how long to wait."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who is behind a request: a user's session cookie, or an API token (no CSRF then)."""

    user_id: int
    username: str
    role: Role
    site_ids: tuple[int, ...] | None  # None: every site
    csrf_token: str | None  # None for API tokens, which browsers never send by themselves

    def sees(self, site_id: int) -> bool:
        """Whether this user may see the site."""
        return self.site_ids is None or site_id in self.site_ids

    def sites(self, site_id: int | None = None) -> SiteIds:
        """The sites a query covers: the chosen one (already checked visible), else all seen."""
        return (site_id,) if site_id is not None else self.site_ids


FAILURES = text("""
SELECT count(*) FILTER (WHERE username = :username), count(*) FILTER (WHERE remote_addr = :addr)
FROM login_attempt WHERE NOT ok AND at > :since
""")
USER = text("""
SELECT id, password_hash, role FROM app_user WHERE username = :username AND disabled_at IS NULL
""")


async def _throttle(session: AsyncSession, username: str, addr: str | None, now: datetime) -> None:
    params = {"username": username, "addr": addr, "since": now - THROTTLE_WINDOW}
    by_user, by_addr = (await session.execute(FAILURES, params)).one()
    if by_user >= MAX_FAILURES_PER_USER or by_addr >= MAX_FAILURES_PER_ADDRESS:
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        raise LoginThrottledError(f"too many failed sign-ins; try again in up to {minutes} minutes")


async def authenticate(
    session: AsyncSession, *, username: str, password: str, addr: str | None, now: datetime
) -> int | None:
    """The user id for a right username and password, else None; every attempt is kept."""
    username = username.strip().lower()
    await _throttle(session, username, addr, now)
    row = (await session.execute(USER, {"username": username})).first()
    ok = verify_password(row[1] if row else None, password)
    await session.execute(
        text("INSERT INTO login_attempt (username, remote_addr, ok) VALUES (:u, :a, :ok)"),
        {"u": username, "a": addr, "ok": ok},
    )
    session.add(AuditEntry(actor=username, action="auth.login" if ok else "auth.login_failed",
                           remote_addr=addr))  # fmt: skip
    return int(row[0]) if ok and row else None


async def start_session(
    session: AsyncSession, user_id: int, *, addr: str | None, now: datetime
) -> str:
    """A new session for the user; returns the cookie value (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    await session.execute(
        text("INSERT INTO user_session (token_hash, user_id, csrf_token, expires_at, remote_addr) "
             "VALUES (:hash, :user, :csrf, :expires, :addr)"),
        {"hash": hash_token(token), "user": user_id, "csrf": secrets.token_urlsafe(32),
         "expires": now + SESSION_LIFETIME, "addr": addr},
    )  # fmt: skip
    return token


SESSION_USER = text("""
SELECT u.id, u.username, u.role, u.site_ids, s.csrf_token
FROM user_session s JOIN app_user u ON u.id = s.user_id
WHERE s.token_hash = :hash AND s.expires_at > :now AND u.disabled_at IS NULL
""")


async def session_user(session: AsyncSession, token: str, now: datetime) -> SignedIn | None:
    """The signed-in user of a cookie value, if the session is still valid."""
    row = (await session.execute(SESSION_USER, {"hash": hash_token(token), "now": now})).first()
    if row is None:
        return None
    sites = None if row[3] is None else tuple(row[3])
    return SignedIn(row[0], row[1], Role(row[2]), sites, row[4])


async def end_session(session: AsyncSession, token: str, who: SignedIn, addr: str | None) -> None:
    """Sign out: the session is deleted, so the cookie is worthless even if kept."""
    await session.execute(
        text("DELETE FROM user_session WHERE token_hash = :hash"), {"hash": hash_token(token)}
    )
    session.add(AuditEntry(actor=who.username, action="auth.logout", remote_addr=addr))


async def save_user(
    session: AsyncSession, *, username: str, password: str, role: Role,
    site_codes: list[str] | None = None,
) -> int:  # fmt: skip
    """Create the user, or reset an existing one's password, role and sites; returns the id."""
    site_ids = await site_ids_by_codes(session, site_codes) if site_codes else None
    values = {"username": username.strip().lower(), "hash": hash_password(password),
              "role": role.value, "sites": site_ids}  # fmt: skip
    user_id = await session.execute(
        text("INSERT INTO app_user (username, password_hash, role, site_ids) "
             "VALUES (:username, :hash, :role, :sites) ON CONFLICT (username) DO UPDATE SET "
             "password_hash = excluded.password_hash, role = excluded.role, "
             "site_ids = excluded.site_ids, disabled_at = NULL RETURNING id"),
        values,
    )  # fmt: skip
    return int(user_id.scalar_one())


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as the admin screen lists them."""

    id: int
    username: str
    role: str
    site_codes: list[str] | None
    created_at: datetime
    disabled_at: datetime | None


USERS = text("""
SELECT u.id, u.username, u.role,
       (SELECT array_agg(s.code ORDER BY s.code) FROM site s WHERE s.id = ANY(u.site_ids)),
       u.created_at, u.disabled_at
FROM app_user u ORDER BY u.disabled_at IS NOT NULL, u.username
""")


async def list_users(session: AsyncSession) -> list[UserView]:
    """Every user, enabled first, by name."""
    return [UserView(*row) for row in await session.execute(USERS)]


async def disable_user(session: AsyncSession, user_id: int, *, by: str) -> str:
    """Disable a user and end their sessions at once; returns the username."""
    result = await session.execute(
        text("UPDATE app_user SET disabled_at = now() WHERE id = :id AND disabled_at IS NULL "
             "RETURNING username"), {"id": user_id})  # fmt: skip
    username = result.scalar()
    if username is None:
        raise ValueError(f"no enabled user with id {user_id}")
    await session.execute(text("DELETE FROM user_session WHERE user_id = :id"), {"id": user_id})
    session.add(AuditEntry(actor=by, action="user.disable", target=str(username)))
    return str(username)
