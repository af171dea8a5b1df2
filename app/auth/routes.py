"""The login and logout pages."""

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.auth.dependencies import COOKIE, Viewer
from app.auth.service import (
    SESSION_LIFETIME,
    LoginThrottledError,
    authenticate,
    end_session,
    start_session,
)
from app.config import Environment, Settings
from app.core.db import SessionDep
from app.core.errors import error_body
from app.core.security import client_host

router = APIRouter(include_in_schema=False)


def _local(target: str) -> str:
    """Only a path on this site: never a redirect elsewhere."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(request: Request, *, message: str = "", status: int = 200) -> HTMLResponse:
    templates = request.app.state.templates
    next_path = _local(request.query_params.get("next", "/"))
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "login.html", {"message": message, "next": next_path}, status_code=status
    )


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Check the password; on success set the session cookie and go where the user was going."""
    addr = client_host(request)
    now = datetime.now(UTC)
    try:
        user_id = await authenticate(session, username=username, password=password, addr=addr,
                                     now=now)  # fmt: skip
    except LoginThrottledError as exc:
        return _login_page(request, message=str(exc), status=429)
    if user_id is None:  # the attempt is still stored: it counts towards throttling
        return _login_page(request, message="wrong username or password", status=401)
    token = await start_session(session, user_id, addr=addr, now=now)
    response = RedirectResponse(_local(next_path), status_code=303)
    settings: Settings = request.app.state.settings
    response.set_cookie(
        COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()), httponly=True,
        samesite="lax", path="/",
        secure=settings.env not in (Environment.DEVELOPMENT, Environment.TEST),
    )  # fmt: skip
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
