"""Admin screens: users, edge devices and API tokens; secrets are shown once, then only hashes."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse

from app.audit import service as audit
from app.auth.dependencies import require
from app.auth.grants import GrantRefusedError
from app.auth.passwords import generate_password
from app.auth.permissions import Access, Permission, Role
from app.auth.service import SignedIn, disable_user, list_users, save_user
from app.auth.tokens import create_token, list_tokens, revoke_token
from app.core.db import SessionDep
from app.core.htmx import render
from app.core.ids import IntId
from app.fleet.overview import site_overviews
from app.sites.repository import list_devices, revoke_device
from app.sites.service import DuplicateDeviceError, UnknownSiteError, create_edge_device

router = APIRouter(include_in_schema=False, prefix="/admin")

Admin = Annotated[SignedIn, require(Permission.MANAGE)]


async def _page(
    request: Request, session: AsyncSession, status: int = 200, **outcome: Any
) -> HTMLResponse:
    """The admin page, with the outcome of the last action (a new secret, or a problem)."""
    admin: SignedIn = request.state.user  # set by the Admin dependency
    scope = admin.site_ids  # a limited admin sees, and grants, only their own sites
    context = {
        "users": await list_users(session, scope=scope),
        "devices": await list_devices(session, scope=scope),
        "tokens": await list_tokens(session, scope=scope),
        "sites": await site_overviews(session, scope),
        "every_site": scope is None,
        "roles": [r.value for r in Role],
        "accesses": [a.value for a in Access],
        "now": datetime.now(UTC),
        "active": "admin",
        **outcome,
    }
    answer = render(request, request.app.state.templates, "admin.html", context, status_code=status)
    # It may show a new secret, and lists who holds access: never kept by a cache or the history.
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _audit(session: AsyncSession, user: SignedIn, action: str, target: str) -> None:
    audit.record(session, actor=user.username, action=action, target=target)


def _codes(sites: list[str]) -> list[str] | None:
    return [s for s in sites if s] or None


@router.get("", response_class=HTMLResponse)
async def admin_page(request: Request, session: SessionDep, _: Admin) -> HTMLResponse:
    """Users, edge devices and API tokens."""
    return await _page(request, session)


class TokenForm(BaseModel):
    """A new API token: who uses it, read or write, for how long, on which sites."""

    name: str = Field(min_length=1, max_length=100)
    access: Access
    days: int = Field(default=90, ge=1, le=366)
    sites: list[str] = []


@router.post("/tokens", response_class=HTMLResponse)
async def new_token_form(
    request: Request, session: SessionDep, user: Admin, form: Annotated[TokenForm, Form()]
) -> HTMLResponse:
    """Create an API token; its secret is on this answer only."""
    try:
        secret = await create_token(
            session,
            name=form.name,
            access=form.access,
            site_codes=_codes(form.sites),
            days=form.days,
            created_by=user.username,
            now=datetime.now(UTC),
            scope=user.site_ids,
        )
    except GrantRefusedError as exc:
        return await _page(request, session, 403, problem=str(exc))
    except ValueError as exc:
        return await _page(request, session, 422, problem=str(exc))
    return await _page(request, session, secret=secret, secret_of=f"API token {form.name!r}")


@router.post("/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token_form(
    request: Request, session: SessionDep, user: Admin, token_id: IntId
) -> HTMLResponse:
    """Revoke an API token at once."""
    try:
        name = await revoke_token(
            session, token_id, by=user.username, now=datetime.now(UTC), scope=user.site_ids
        )
    except ValueError as exc:
        return await _page(request, session, 404, problem=str(exc))
    return await _page(request, session, done=f"API token {name!r} revoked")


class DeviceForm(BaseModel):
    """A new edge device of a site (or a new token for one)."""

    site: str
    name: str = Field(min_length=1, max_length=100)
    rotate: bool = False


@router.post("/devices", response_class=HTMLResponse)
async def new_device_form(
    request: Request, session: SessionDep, user: Admin, form: Annotated[DeviceForm, Form()]
) -> HTMLResponse:
    """Register an edge device (or give one a new token); the token is on this answer only."""
    site, name = form.site, form.name.strip()
    try:
        token = await create_edge_device(
            session, site_code=site, name=name, rotate=form.rotate, scope=user.site_ids
        )
    except (UnknownSiteError, DuplicateDeviceError) as exc:
        return await _page(request, session, 422, problem=str(exc))
    _audit(session, user, "device.rotate" if form.rotate else "device.create", f"{site}/{name}")
    return await _page(request, session, secret=token, secret_of=f"edge device {site}/{name}")


@router.post("/devices/{device_id}/revoke", response_class=HTMLResponse)
async def revoke_device_form(
    request: Request, session: SessionDep, user: Admin, device_id: IntId
) -> HTMLResponse:
    """Revoke an edge device's token at once (its site stops accepting its batches)."""
    revoked = await revoke_device(session, device_id, scope=user.site_ids)
    if revoked is None:
        return await _page(request, session, 404, problem=f"no active device with id {device_id}")
    _audit(session, user, "device.revoke", revoked)
    return await _page(request, session, done=f"edge device {revoked} revoked")


class UserForm(BaseModel):
    """A new user (or a reset of one): name, role, and optionally some sites."""

    username: str = Field(pattern=r"^[A-Za-z0-9._-]{2,64}$")
    role: Role
    sites: list[str] = []


@router.post("/users", response_class=HTMLResponse)
async def new_user_form(
    request: Request, session: SessionDep, user: Admin, form: Annotated[UserForm, Form()]
) -> HTMLResponse:
    """Create a user (or reset one) with a generated password, shown on this answer only."""
    password = generate_password()
    username = form.username.lower()
    try:
        await save_user(
            session,
            username=username,
            password=password,
            role=form.role,
            site_codes=_codes(form.sites),
            scope=user.site_ids,
        )
    except GrantRefusedError as exc:
        return await _page(request, session, 403, problem=str(exc))
    except ValueError as exc:
        return await _page(request, session, 422, problem=str(exc))
    _audit(session, user, "user.save", f"{username} as {form.role}")
    return await _page(request, session, secret=password, secret_of=f"user {username!r}")


@router.post("/users/{user_id}/disable", response_class=HTMLResponse)
async def disable_user_form(
    request: Request, session: SessionDep, user: Admin, user_id: IntId
) -> HTMLResponse:
    """Disable a user; their sessions end at once."""
    if user_id == user.user_id:
        return await _page(request, session, 409, problem="you cannot disable yourself")
    try:
        name = await disable_user(session, user_id, by=user.username, scope=user.site_ids)
    except ValueError as exc:
        return await _page(request, session, 404, problem=str(exc))
    return await _page(request, session, done=f"user {name!r} disabled")
