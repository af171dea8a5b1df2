"""Sign-in, sessions and users: the SQL behind the login page, the cookie and the CLI."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.grants import GrantRefusedError, granted_site_ids, within
from app.auth.passwords import hash_password_off_loop
from app.auth.permissions import Role
from app.auth.throttle import check_throttle
from app.core.scope import SiteIds
from app.core.security import hash_token

SESSION_LIFETIME = timedelta(hours=12)  # one shift


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


@dataclass(frozen=True, slots=True)
class Attempt:
    """A sign-in attempt let through the throttle: its row, and the account it names."""

    attempt_id: int
    user_id: int | None  # None: no enabled user has that name
    password_hash: str | None


USER = text("""
SELECT id, password_hash FROM app_user WHERE username = :username AND disabled_at IS NULL
""")
# Attempts on one account, and from one address, take their turn: concurrent attempts would
# otherwise all pass the throttle before any of them had counted as a failure.
TAKE_TURN = text("""
SELECT pg_advisory_xact_lock(1, hashtext(:username)),
       pg_advisory_xact_lock(2, hashtext(coalesce(:addr, '')))
""")
BEGIN_ATTEMPT = text("""
INSERT INTO login_attempt (username, remote_addr, ok) VALUES (:username, :addr, false)
RETURNING id
""")


async def begin_attempt(
    session: AsyncSession, *, username: str, addr: str | None, now: datetime
) -> Attempt:
    """Let the attempt through the throttle (or LoginThrottledError) and count it as a failure
    until the password proves right; commit before checking the password, so others see it."""
    params = {"username": username, "addr": addr}
    await session.execute(TAKE_TURN, params)
    await check_throttle(session, username=username, addr=addr, now=now)
    attempt_id = (await session.execute(BEGIN_ATTEMPT, params)).scalar_one()
    row = (await session.execute(USER, params)).first()
    return Attempt(attempt_id, *(row or (None, None)))


async def finish_attempt(
    session: AsyncSession, attempt: Attempt, *, username: str, addr: str | None, ok: bool
) -> None:
    """Mark the attempt a success (the failure is already counted) and audit it either way."""
    if ok:
        await session.execute(
            text("UPDATE login_attempt SET ok = true WHERE id = :id"), {"id": attempt.attempt_id}
        )
    action = "auth.login" if ok else "auth.login_failed"
    audit.record(session, actor=username, action=action, remote_addr=addr)


async def start_session(
    session: AsyncSession, user_id: int, *, addr: str | None, now: datetime
) -> str:
    """A new session for the user; returns the cookie value (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    await session.execute(
        text(
            "INSERT INTO user_session (token_hash, user_id, csrf_token, expires_at, remote_addr) "
            "VALUES (:hash, :user, :csrf, :expires, :addr)"
        ),
        {
            "hash": hash_token(token),
            "user": user_id,
            "csrf": secrets.token_urlsafe(32),
            "expires": now + SESSION_LIFETIME,
            "addr": addr,
        },
    )
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
    audit.record(session, actor=who.username, action="auth.logout", remote_addr=addr)


async def save_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    site_codes: list[str] | None = None,
    scope: SiteIds = None,
) -> int:
    """Create the user, or reset an existing one's password, role and sites; returns the id.

    A reset ends the user's sessions: whoever held the old password is signed out. `scope` is
    the acting admin's sites (None: every site): they grant only those, and reset only users
    whose sites are all theirs (GrantRefusedError otherwise).
    """
    username = username.strip().lower()
    site_ids = await granted_site_ids(session, codes=site_codes, scope=scope)
    await _refuse_out_of_reach(session, username, scope)
    values = {
        "username": username,
        "hash": await hash_password_off_loop(password),
        "role": role.value,
        "sites": site_ids,
    }
    user_id = int((await session.execute(SAVE_USER, values)).scalar_one())
    await session.execute(text("DELETE FROM user_session WHERE user_id = :id"), {"id": user_id})
    return user_id


SAVE_USER = text("""
INSERT INTO app_user (username, password_hash, role, site_ids)
VALUES (:username, :hash, :role, :sites)
ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,
    role = excluded.role, site_ids = excluded.site_ids, disabled_at = NULL
RETURNING id
""")


async def _refuse_out_of_reach(session: AsyncSession, username: str, scope: SiteIds) -> None:
    found = await session.execute(
        text("SELECT site_ids FROM app_user WHERE username = :u"), {"u": username}
    )
    row = found.first()
    if row is not None and not within(scope, row[0]):
        raise GrantRefusedError(
            f"user {username!r} has access beyond your sites; only an admin of all their "
            "sites may change them"
        )


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as the admin screen lists them."""

    id: int
    username: str
    role: str
    site_codes: list[str] | None
    created_at: datetime
    disabled_at: datetime | None


# A NULL :scope is an admin of every site; else only users whose sites are all in it.
IN_SCOPE = (
    "(CAST(:scope AS int[]) IS NULL OR "
    "(u.site_ids IS NOT NULL AND u.site_ids <@ CAST(:scope AS int[])))"
)
USERS = text(f"""
SELECT u.id, u.username, u.role,
       (SELECT array_agg(s.code ORDER BY s.code) FROM site s WHERE s.id = ANY(u.site_ids)),
       u.created_at, u.disabled_at
FROM app_user u WHERE {IN_SCOPE} ORDER BY u.disabled_at IS NOT NULL, u.username
""")  # noqa: S608 - IN_SCOPE is a constant


async def list_users(session: AsyncSession, *, scope: SiteIds = None) -> list[UserView]:
    """The users within an admin's scope, enabled first, by name."""
    rows = await session.execute(USERS, {"scope": _ids(scope)})
    return [UserView(*row) for row in rows]


def _ids(scope: SiteIds) -> list[int] | None:
    return None if scope is None else list(scope)


DISABLE = text(f"""
UPDATE app_user u SET disabled_at = now()
WHERE u.id = :id AND u.disabled_at IS NULL AND {IN_SCOPE}
RETURNING u.username
""")  # noqa: S608 - IN_SCOPE is a constant


async def disable_user(
    session: AsyncSession, user_id: int, *, by: str, scope: SiteIds = None
) -> str:
    """Disable a user (within the admin's scope) and end their sessions; returns the username."""
    username = (await session.execute(DISABLE, {"id": user_id, "scope": _ids(scope)})).scalar()
    if username is None:
        raise ValueError(f"no enabled user with id {user_id}")
    await session.execute(text("DELETE FROM user_session WHERE user_id = :id"), {"id": user_id})
    audit.record(session, actor=by, action="user.disable", target=str(username))
    return str(username)
