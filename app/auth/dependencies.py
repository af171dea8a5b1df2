"""Who is signed in, and whether they may do what they ask: FastAPI dependencies.

Every page and read endpoint needs a signed-in user (VIEW), or on /api/ an API token; state-changing
browser requests also need the session's CSRF token, as an X-CSRF-Token header (htmx sends it from
the page) or a csrf_token form field (plain forms).
"""

from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from app.auth.permissions import Permission, allows, may_command
from app.auth.service import SignedIn, session_user
from app.auth.tokens import TokenError, token_user
from app.core.db import SessionDep
from app.core.enums import DisableReason
from app.core.security import same_secret

COOKIE = "ridethrough_session"
# The request's CSRF token, for hidden fields rendered by macros that cannot see the request.
CURRENT_CSRF: ContextVar[str | None] = ContextVar("current_csrf", default=None)
# The request's user, so macros show each role only the actions it may take.
CURRENT_USER: ContextVar["SignedIn | None"] = ContextVar("current_user", default=None)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotSignedInError(HTTPException):
    """401: pages redirect to the login page, the API answers with the error body."""

    def __init__(self) -> None:
        super().__init__(401, "sign in first")


async def current_user(request: Request, session: SessionDep) -> SignedIn | None:
    """The signed-in user, or None (cached per request)."""
    if hasattr(request.state, "user"):
        cached: SignedIn | None = request.state.user
        return cached
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and request.url.path.startswith("/api/"):
        user: SignedIn | None = await _token_user(session, secret.strip())
    else:
        token = request.cookies.get(COOKIE)
        user = None if not token else await session_user(session, token, datetime.now(UTC))
    request.state.user = user
    CURRENT_CSRF.set(user.csrf_token if user else None)
    CURRENT_USER.set(user)
    return user


async def _token_user(session: AsyncSession, secret: str) -> SignedIn:
    """The API token's identity, or 401 saying why the token cannot be used."""
    try:
        return await token_user(session, secret, datetime.now(UTC))
    except TokenError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


def csrf_field() -> Markup:
    """A hidden csrf_token input for plain (no-JavaScript) forms; empty when signed out."""
    token = CURRENT_CSRF.get()
    if token is None:
        return Markup("")
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)


def user_can(permission: str) -> bool:
    """Whether this request's user has a permission (templates hide what a role may not do)."""
    user = CURRENT_USER.get()
    return user is not None and allows(user.role, Permission(permission))


def command_reasons(kind: str) -> list[str]:
    """The reasons this request's user may give for a command kind; none: they may not send it."""
    user = CURRENT_USER.get()
    if user is None:
        return []
    return [r.value for r in DisableReason if may_command(user.role, kind, r.value) is None]


async def _csrf_ok(request: Request, user: SignedIn) -> bool:
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and "form" in request.headers.get("content-type", ""):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    return sent is not None and user.csrf_token is not None and same_secret(sent, user.csrf_token)


def require(permission: Permission) -> Any:
    """A dependency: the signed-in user, if the role has `permission` (and CSRF holds)."""

    async def dependency(request: Request, session: SessionDep) -> SignedIn:
        user = await current_user(request, session)
        if user is None:
            raise NotSignedInError
        if not allows(user.role, permission):
            raise HTTPException(403, f"a {user.role} may not {permission.value} here")
        # API tokens need no CSRF token: a browser never attaches them by itself.
        needs_csrf = user.csrf_token is not None and request.method not in SAFE_METHODS
        if needs_csrf and not await _csrf_ok(request, user):
            raise HTTPException(403, "missing or stale CSRF token: reload the page and retry")
        return user

    return Depends(dependency)


Viewer = Annotated[SignedIn, require(Permission.VIEW)]
Commander = Annotated[SignedIn, require(Permission.COMMAND)]
Acknowledger = Annotated[SignedIn, require(Permission.ACKNOWLEDGE)]
Shelver = Annotated[SignedIn, require(Permission.SHELVE)]
