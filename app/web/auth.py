"""The login and logout pages."""

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.dependencies import COOKIE, Viewer
from app.auth.passwords import verify_password_off_loop
from app.auth.service import (
    SESSION_LIFETIME,
    begin_attempt,
    end_session,
    finish_attempt,
    start_session,
)
from app.auth.throttle import LoginThrottledError
from app.config import Environment, Settings
from app.core.db import SessionDep
from app.core.errors import error_body
from app.core.security import (
    LOGIN_FORM_LIFETIME_S,
    client_host,
    login_form_token,
    login_nonce,
    same_secret,
)

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "ridethrough_login"  # the sign-in form's CSRF nonce (there is no session yet)


def _local(target: str) -> str:
    """Only a path on this site: never a redirect elsewhere."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(
    request: Request, *, message: str = "", status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """The sign-in form, with its CSRF token (and the cookie it is checked against)."""
    templates = request.app.state.templates
    next_path = _local(request.query_params.get("next", "/"))
    nonce = login_nonce(request.cookies.get(LOGIN_COOKIE))
    context = {"message": message, "next": next_path, "login_csrf": _login_csrf(request, nonce)}
    answer: HTMLResponse = templates.TemplateResponse(
        request, "login.html", context, status_code=status, headers=headers
    )
    answer.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_LIFETIME_S,
        httponly=True,
        samesite="lax",
        path="/login",
        secure=_secure(request),
    )
    return answer


def _login_csrf(request: Request, nonce: str) -> str:
    settings: Settings = request.app.state.settings
    return login_form_token(settings.secret_key.get_secret_value(), nonce)


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.env not in (Environment.DEVELOPMENT, Environment.TEST)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request)


class LoginForm(BaseModel):
    """The sign-in form's fields."""

    username: str = Field(max_length=100)
    password: str = Field(max_length=200)
    next_path: str = Field(default="/", alias="next", max_length=2000)
    csrf_token: str = Field(default="", max_length=200)


@router.post("/login", response_model=None)
async def login(
    request: Request, session: SessionDep, form: Annotated[LoginForm, Form()]
) -> Response:
    """Check the password; on success set the session cookie and go where the user was going."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not same_secret(form.csrf_token, _login_csrf(request, nonce)):
        # A sign-in posted from another site (login CSRF), or a form older than its cookie.
        return _login_page(
            request, message="the sign-in form expired: please sign in again", status=403
        )
    username, addr, now = form.username.strip().lower(), client_host(request), datetime.now(UTC)
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    try:  # its own short transaction: the attempt counts at once, no connection held meanwhile
        async with sessionmaker() as counting, counting.begin():
            attempt = await begin_attempt(counting, username=username, addr=addr, now=now)
    except LoginThrottledError as exc:
        return _login_page(
            request, message=str(exc), status=429, headers={"Retry-After": str(exc.retry_after_s)}
        )
    ok = await verify_password_off_loop(attempt.password_hash, form.password)
    await finish_attempt(session, attempt, username=username, addr=addr, ok=ok)
    if not ok or attempt.user_id is None:
        return _login_page(request, message="wrong username or password", status=401)
    token = await start_session(session, attempt.user_id, addr=addr, now=now)
    response = RedirectResponse(_local(form.next_path), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        path="/",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, user: Viewer) -> RedirectResponse:
    """End the session and forget the cookie."""
    await end_session(session, request.cookies.get(COOKIE, ""), user, client_host(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def not_signed_in(request: Request, exc: Exception) -> Response:
    """Pages go to the login form (htmx is told to go there); the API gets the error body."""
    if request.url.path.startswith("/api/") or request.url.path == "/live":
        return JSONResponse(error_body("unauthorized", "sign in first"), status_code=401)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/login?{urlencode({'next': here})}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)
