"""The alarms page and the operator's actions on an alarm (acknowledge, shelve, unshelve)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.alarms.access import actor, check_alarm_visible, check_alarms_visible
from app.alarms.lifecycle import (
    SHELVE_CHOICES,
    AlarmStateError,
    acknowledge,
    shelve,
    unshelve,
)
from app.alarms.queries import STANDING, AlarmFilter, list_alarms
from app.auth.dependencies import Acknowledger, Shelver, Viewer
from app.core.db import SessionDep
from app.core.filters import UrlFilters
from app.core.htmx import is_htmx, render
from app.core.ids import BigId
from app.fleet.access import chosen_site_id
from app.fleet.overview import site_overviews

router = APIRouter(include_in_schema=False)


StateFilter = Literal[
    "standing", "unacked", "acked", "rtn_unacked", "shelved", "suppressed", "normal"
]


ALARM_ROWS = 200  # the most urgent first; a fleet in trouble is narrowed with the filters


class AlarmQuery(UrlFilters):
    """Filters of the alarms page, all in the URL."""

    site: str = ""
    priority: int | None = Field(default=None, ge=1, le=4)
    state: StateFilter = "standing"


def _states(state: StateFilter) -> tuple[str, ...]:
    return STANDING if state == "standing" else (state,)


def _done(request: Request, back: str) -> Response:
    """htmx: tell the page's alarm lists to refresh; plain form posts: back to the page."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Trigger": "alarms-changed"})
    # Only a local path, never an open redirect.
    target = back if back.startswith("/") and not back.startswith("//") else "/alarms"
    return RedirectResponse(target, status_code=303)


@router.get("/alarms", response_class=HTMLResponse)
async def alarms_page(
    request: Request, session: SessionDep, query: Annotated[AlarmQuery, Query()], user: Viewer
) -> HTMLResponse:
    """Alarms of the user's sites or one site, filtered by priority and state."""
    sites = user.sites(await chosen_site_id(session, user, query.site))
    where = AlarmFilter(
        sites=sites, priority=query.priority, states=_states(query.state), limit=ALARM_ROWS
    )
    context = {
        "alarms": await list_alarms(session, where),
        "limit": ALARM_ROWS,
        "sites": await site_overviews(session, user.sites()),
        "query": query,
        "now": datetime.now(UTC),
        "active": "alarms",
    }
    return render(request, request.app.state.templates, "alarms.html", context)


@router.post("/alarms/{alarm_id}/acknowledge")
async def acknowledge_alarm(
    request: Request,
    session: SessionDep,
    alarm_id: BigId,
    *,
    user: Acknowledger,
    note: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form()] = "/alarms",
) -> Response:
    """Acknowledge, with an optional note."""
    await check_alarm_visible(session, user, alarm_id)
    try:
        await acknowledge(
            session, alarm_id, actor=actor(request, user), note=note.strip(), at=datetime.now(UTC)
        )
    except AlarmStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _done(request, back)


MAX_BULK = 1000  # alarms one request may acknowledge (a page never shows more)


class BulkAckForm(BaseModel):
    """Acknowledge the ticked alarms, or every unacknowledged alarm the page showed."""

    scope: Literal["selected", "shown"] = "selected"
    alarm: list[int] = Field(default=[], max_length=MAX_BULK)
    shown: list[int] = Field(default=[], max_length=MAX_BULK)
    note: str = Field(default="", max_length=500)
    back: str = "/alarms"


@router.post("/alarms/acknowledge")
async def acknowledge_alarms(
    request: Request,
    session: SessionDep,
    form: Annotated[BulkAckForm, Form()],
    user: Acknowledger,
) -> Response:
    """Acknowledge several alarms with one note; any acknowledged meanwhile stay as they are."""
    ids = sorted(set(form.alarm if form.scope == "selected" else form.shown))
    if not ids:
        raise HTTPException(400, "no alarm selected: tick the alarms to acknowledge first")
    await check_alarms_visible(session, user, ids)
    now, who = datetime.now(UTC), actor(request, user)
    for alarm_id in ids:
        try:
            await acknowledge(session, alarm_id, actor=who, note=form.note.strip(), at=now)
        except AlarmStateError:
            continue  # someone else acknowledged it first, or it went back to normal
    return _done(request, form.back)


class ShelveForm(BaseModel):
    """How long to shelve and why."""

    minutes: int
    reason: str = Field(min_length=3, max_length=500)
    back: str = "/alarms"


@router.post("/alarms/{alarm_id}/shelve")
async def shelve_alarm(
    request: Request,
    session: SessionDep,
    alarm_id: BigId,
    form: Annotated[ShelveForm, Form()],
    user: Shelver,
) -> Response:
    """Shelve for one of the offered durations, with a reason."""
    await check_alarm_visible(session, user, alarm_id)
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
    alarm_id: BigId,
    user: Shelver,
    back: Annotated[str, Form()] = "/alarms",
) -> Response:
    """End a shelf now."""
    await check_alarm_visible(session, user, alarm_id)
    try:
        await unshelve(session, alarm_id, actor=actor(request, user))
    except AlarmStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _done(request, back)
