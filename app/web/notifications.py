"""Notification screens: the admins' rules and delivery log, and each person's own contacts."""

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse

from app.auth.dependencies import Viewer, require
from app.auth.permissions import Permission
from app.auth.service import SignedIn, list_users
from app.core.db import SessionDep
from app.core.htmx import render
from app.core.ids import IntId
from app.core.security import client_host
from app.fleet.overview import site_overviews
from app.notifications import service
from app.notifications.repository import list_rules, recent_messages
from app.notifications.rosters import create_roster, delete_roster, list_rosters, roster_exists
from app.notifications.schemas import ContactIn, RosterIn, RuleIn, ShiftIn
from app.notifications.service import RuleRefusedError, Who
from app.notifications.sink import CaughtMail, caught_mail

router = APIRouter(include_in_schema=False)

Admin = Annotated[SignedIn, require(Permission.MANAGE)]


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "form"
    return f"{field}: {error['msg']}"


def _caught(request: Request, user: SignedIn) -> list[CaughtMail] | None:
    """The local SMTP sink's catch (`make run`), for an admin of every site; None: no sink."""
    directory = request.app.state.settings.mail_sink_dir
    if directory is None or user.site_ids is not None:
        return None
    return caught_mail(directory)


async def _admin_page(
    request: Request, session: AsyncSession, user: SignedIn, status: int = 200, **outcome: Any
) -> HTMLResponse:
    rules = [r for r, sites in await list_rules(session) if service.in_scope(sites, user.site_ids)]
    context = {
        "rules": rules,
        "rosters": await list_rosters(session, now=datetime.now(UTC)),
        "time_zones": time_zones(),
        "messages": await recent_messages(session, scope=user.site_ids),
        "sites": await site_overviews(session, user.site_ids),
        "users": [u for u in await list_users(session, scope=user.site_ids) if not u.disabled_at],
        "every_site": user.site_ids is None,
        "caught": _caught(request, user),
        "now": datetime.now(UTC),
        "active": "admin",
        **outcome,
    }
    return render(
        request,
        request.app.state.templates,
        "notifications_admin.html",
        context,
        status_code=status,
    )


@router.get("/admin/notifications", response_class=HTMLResponse)
async def notifications_admin(request: Request, session: SessionDep, user: Admin) -> HTMLResponse:
    """Rules, and the newest messages with failures first."""
    return await _admin_page(request, session, user)


class RuleForm(BaseModel):
    """The rule form: lists from multiple selects and checkboxes, codes comma-separated."""

    name: str = ""
    sites: list[str] = []
    min_priority: int = 2
    codes: str = ""
    events: list[str] = []
    users: list[str] = []
    rosters: list[str] = []
    channels: list[str] = []
    escalate_after_minutes: float = 0


@router.post("/admin/notifications/rules", response_class=HTMLResponse)
async def add_rule_form(
    request: Request, session: SessionDep, user: Admin, form: Annotated[RuleForm, Form()]
) -> HTMLResponse:
    """Add a rule from the form."""
    codes = [c.strip() for c in form.codes.split(",") if c.strip()]
    try:
        body = RuleIn(
            name=form.name.strip(),
            sites=[s for s in form.sites if s] or None,
            min_priority=form.min_priority,
            codes=codes or None,
            events=form.events,
            users=form.users,
            rosters=form.rosters,
            channels=form.channels,
            escalate_after_minutes=form.escalate_after_minutes,
        )
        await service.create_rule(session, body, who=Who(user, client_host(request)))
    except ValidationError as exc:
        return await _admin_page(request, session, user, 422, problem=_first_error(exc))
    except RuleRefusedError as exc:
        return await _admin_page(request, session, user, exc.status, problem=str(exc))
    return await _admin_page(request, session, user, done=f"rule {form.name.strip()!r} added")


@router.post("/admin/notifications/rules/{rule_id}/delete", response_class=HTMLResponse)
async def delete_rule_form(
    request: Request, session: SessionDep, user: Admin, rule_id: IntId
) -> HTMLResponse:
    """Delete a rule."""
    who = Who(user, client_host(request))
    rule = await service.rule_in_scope(session, rule_id, who)
    if rule is None:
        return await _admin_page(request, session, user, 404, problem=f"no rule {rule_id}")
    await service.delete_rule(session, rule_id, who=who)
    return await _admin_page(request, session, user, done=f"rule {rule.name!r} deleted")


@cache
def time_zones() -> list[str]:
    """The IANA zone names offered on the roster form (read once: it scans the disk)."""
    return sorted(available_timezones())


class RosterForm(BaseModel):
    """The roster form: shifts one a line, 'weekday start-end user'."""

    name: str = ""
    time_zone: str = ""
    shifts: str = ""


def parse_shifts(lines: str) -> list[ShiftIn]:
    """Shifts from 'sat 22:00-06:00 alice' lines; a line of another shape is refused by number."""
    shifts = []
    for number, line in enumerate(lines.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        hours = parts[1].split("-") if len(parts) == 3 else []
        if len(hours) != 2:
            raise RuleRefusedError(
                f"shifts line {number}: {line.strip()!r} is not 'weekday start-end user' "
                "(e.g. 'sat 22:00-06:00 alice')"
            )
        fields = {"weekday": parts[0].lower(), "starts": hours[0], "ends": hours[1]}
        try:
            shifts.append(ShiftIn.model_validate({**fields, "user": parts[2]}))
        except ValidationError as exc:
            raise RuleRefusedError(f"shifts line {number}: {_first_error(exc)}") from exc
    return shifts


@router.post("/admin/notifications/rosters", response_class=HTMLResponse)
async def add_roster_form(
    request: Request, session: SessionDep, user: Admin, form: Annotated[RosterForm, Form()]
) -> HTMLResponse:
    """Add an on-call roster from the form."""
    try:
        body = RosterIn(
            name=form.name.strip(),
            time_zone=form.time_zone.strip(),
            shifts=parse_shifts(form.shifts),
        )
        await create_roster(session, body, who=Who(user, client_host(request)))
    except ValidationError as exc:
        return await _admin_page(request, session, user, 422, problem=_first_error(exc))
    except RuleRefusedError as exc:
        return await _admin_page(request, session, user, exc.status, problem=str(exc))
    return await _admin_page(request, session, user, done=f"roster {body.name!r} added")


@router.post("/admin/notifications/rosters/{roster_id}/delete", response_class=HTMLResponse)
async def delete_roster_form(
    request: Request, session: SessionDep, user: Admin, roster_id: IntId
) -> HTMLResponse:
    """Delete an on-call roster."""
    if not await roster_exists(session, roster_id):
        return await _admin_page(request, session, user, 404, problem=f"no roster {roster_id}")
    try:
        await delete_roster(session, roster_id, who=Who(user, client_host(request)))
    except RuleRefusedError as exc:
        return await _admin_page(request, session, user, exc.status, problem=str(exc))
    return await _admin_page(request, session, user, done=f"roster {roster_id} deleted")


async def _my_page(
    request: Request, session: AsyncSession, user: SignedIn, status: int = 200, **outcome: Any
) -> HTMLResponse:
    context = {
        "contact": await service.show_contact(session, user.user_id),
        "active": "notifications",
        **outcome,
    }
    return render(
        request, request.app.state.templates, "notifications_mine.html", context, status_code=status
    )


@router.get("/notifications", response_class=HTMLResponse)
async def my_notifications(request: Request, session: SessionDep, user: Viewer) -> HTMLResponse:
    """Your contact details and a test message."""
    return await _my_page(request, session, user)


class ContactForm(BaseModel):
    """The contact form; empty fields remove an address."""

    email: str = Field(default="", max_length=254)
    webhook_url: str = Field(default="", max_length=2000)
    apprise_url: str = Field(default="", max_length=2000)  # empty: keep the one saved
    remove_apprise: bool = False
    rotate_webhook_secret: bool = False


@router.post("/notifications/contact", response_class=HTMLResponse)
async def save_contact_form(
    request: Request, session: SessionDep, user: Viewer, form: Annotated[ContactForm, Form()]
) -> HTMLResponse:
    """Save your contact details; a new webhook key is shown on this answer only."""
    try:
        apprise: dict[str, str | None] = {"apprise_url": None} if form.remove_apprise else {}
        if form.apprise_url.strip() and not form.remove_apprise:
            apprise = {"apprise_url": form.apprise_url.strip()}
        body = ContactIn.model_validate(
            {
                "email": form.email.strip() or None,
                "webhook_url": form.webhook_url.strip() or None,
                "rotate_webhook_secret": form.rotate_webhook_secret,
                **apprise,
            }
        )
    except ValidationError as exc:
        return await _my_page(request, session, user, 422, problem=_first_error(exc))
    saved = await service.save_contact(session, body, who=Who(user, client_host(request)))
    return await _my_page(
        request, session, user, done="contact details saved", secret=saved.webhook_secret
    )


@router.post("/notifications/test", response_class=HTMLResponse)
async def send_test_form(request: Request, session: SessionDep, user: Viewer) -> HTMLResponse:
    """Queue a test message to each of your channels."""
    queued = await service.queue_test(session, who=Who(user, client_host(request)))
    if not queued:
        problem = "no e-mail address or webhook to test: save one first"
        return await _my_page(request, session, user, 409, problem=problem)
    done = f"{len(queued)} test message(s) queued; they arrive within seconds"
    return await _my_page(request, session, user, done=done)
