"""The alarms page and the operator's actions on an alarm (acknowledge, shelve, unshelve)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.alarms.lifecycle import (
    SHELVE_CHOICES,
    Actor,
    AlarmStateError,
    acknowledge,
    shelve,
    unshelve,
)
from app.alarms.queries import STANDING, AlarmFilter, list_alarms
from app.auth.dependencies import Acknowledger, Shelver
from app.auth.service import SignedIn
from app.core.db import SessionDep
from app.core.htmx import is_htmx, render
from app.core.security import client_host
from app.sites.overview import site_overviews
from app.sites.repository import site_id_by_code

router = APIRouter(include_in_schema=False)


StateFilter = Literal[
    "standing", "unacked", "acked", "rtn_unacked", "shelved", "suppressed", "normal"
]


class AlarmQuery(BaseModel):
    """Filters of the alarms page, all in the URL."""

    site: str = ""
    priority: int | None = Field(default=None, ge=1, le=4)
    state: StateFilter = "standing"


def actor(request: Request, user: SignedIn) -> Actor:
    """Who is acting, from where."""
    return Actor(user.username, client_host(request))


def _states(state: StateFilter) -> tuple[str, ...]:
    return STANDING if state == "standing" else (state,)


@router.get("/alarms", response_class=HTMLResponse)
async def alarms_page(
    request: Request, session: SessionDep, query: Annotated[AlarmQuery, Query()]
) -> HTMLResponse:
    """Alarms of the fleet or one site, filtered by priority and state."""
    site_id = None
    if query.site:
        site_id = await site_id_by_code(session, query.site)
        if site_id is None:
            raise HTTPException(404, f"no site with code {query.site!r}")
    where = AlarmFilter(site_id=site_id, priority=query.priority, states=_states(query.state))
    context = {
        "alarms": await list_alarms(session, where),
        "sites": await site_overviews(session),
        "query": query,
        "now": datetime.now(UTC),
        "active": "alarms",
    }
    return render(request, request.app.state.templates, "alarms.html", context)


def _done(request: Request, back: str) -> Response:
    """htmx: tell the page's alarm lists to refresh; plain form posts: back to the page."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Trigger": "alarms-changed"})
    # Only a local path, never an open redirect.
    target = back if back.startswith("/") and not back.startswith("//") else "/alarms"
    return RedirectResponse(target, status_code=303)


@router.post("/alarms/{alarm_id}/acknowledge")
async def acknowledge_alarm(
    request: Request,
    session: SessionDep,
    alarm_id: int,
    *,
    user: Acknowledger,
    note: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form()] = "/alarms",
) -> Response:
    """Acknowledge, with an optional note."""
    try:
        await acknowledge(
            session, alarm_id, actor=actor(request, user), note=note.strip(), at=datetime.now(UTC)
        )
    except AlarmStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _done(request, back)


class ShelveForm(BaseModel):
    """How long to shelve and why."""

    minutes: int
    reason: str = Field(min_length=3, max_length=500)
    back: str = "/alarms"


@router.post("/alarms/{alarm_id}/shelve")
async def shelve_alarm(
    request: Request,
    session: SessionDep,
    alarm_id: int,
    form: Annotated[ShelveForm, Form()],
    user: Shelver,
) -> Response:
    """Shelve for one of the offered durations, with a reason."""
    if form.minutes not in SHELVE_CHOICES:
        raise HTTPException(400, f"shelve for one of {sorted(SHELVE_CHOICES)} minutes")
    try:
        await shelve(
            session,
            alarm_id,
            actor=actor(request, user),
            minutes=form.minutes,
            reason=form.reason.strip(),
            at=datetime.now(UTC),
        )
    except AlarmStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _done(request, form.back)


@router.post("/alarms/{alarm_id}/unshelve")
async def unshelve_alarm(
    request: Request,
    session: SessionDep,
    alarm_id: int,
    user: Shelver,
    back: Annotated[str, Form()] = "/alarms",
) -> Response:
    """End a shelf now."""
    try:
        await unshelve(session, alarm_id, actor=actor(request, user))
    except AlarmStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _done(request, back)
