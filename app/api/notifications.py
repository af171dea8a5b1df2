"""The notification API: rules (admins only) and each person's own contact details."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.status import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.auth.dependencies import Viewer, require
from app.auth.permissions import Permission
from app.auth.service import SignedIn
from app.core.db import SessionDep
from app.core.ids import IntId
from app.core.security import client_host
from app.notifications import service
from app.notifications.repository import list_rules
from app.notifications.rosters import (
    create_roster,
    delete_roster,
    list_rosters,
    replace_roster,
    roster_exists,
)
from app.notifications.schemas import (
    ContactIn,
    ContactOut,
    RosterIn,
    RosterOut,
    RuleIn,
    RuleOut,
    TestSent,
)
from app.notifications.service import RuleRefusedError, Who

router = APIRouter(prefix="/api/v1", tags=["notifications"])

Admin = Annotated[SignedIn, require(Permission.MANAGE)]
AdminOnly: dict[int | str, dict[str, Any]] = {403: {"description": "only admins manage rules"}}
NoRule: dict[int | str, dict[str, Any]] = {
    **AdminOnly,
    404: {"description": "no such rule (or not one of your sites')"},
    422: {"description": "a site or user the rule names does not exist"},
}
NoRoster: dict[int | str, dict[str, Any]] = {
    403: {"description": "only admins of every site manage on-call rosters"},
    404: {"description": "no such roster"},
    409: {"description": "another roster has this name"},
    422: {"description": "an unknown time zone or user, or a shift without a length"},
}
PersonOnly: dict[int | str, dict[str, Any]] = {
    403: {"description": "an API token has no contact details: sign in as a person"}
}
ContactRefused: dict[int | str, dict[str, Any]] = {
    **PersonOnly,
    422: {"description": "an address is malformed, or an Apprise URL Apprise cannot use"},
}


def _who(request: Request, user: SignedIn) -> Who:
    return Who(user, client_host(request))


def _person(user: SignedIn) -> SignedIn:
    """Contact details are a person's: an API token (no CSRF token) has none."""
    if user.csrf_token is None:
        raise HTTPException(403, "an API token has no contact details: sign in as a person")
    return user


async def _rule_or_404(session: SessionDep, rule_id: int, who: Who) -> RuleOut:
    found = await service.rule_in_scope(session, rule_id, who)
    if found is None:
        raise HTTPException(404, f"no notification rule {rule_id}")
    return found


@router.get("/notification-rules", responses=AdminOnly)
async def rules(session: SessionDep, user: Admin) -> list[RuleOut]:
    """The rules of the caller's sites (every rule for an admin of every site)."""
    found = await list_rules(session)
    return [rule for rule, sites in found if service.in_scope(sites, user.site_ids)]


@router.post("/notification-rules", status_code=HTTP_201_CREATED, responses=NoRule)
async def create_rule(request: Request, session: SessionDep, body: RuleIn, user: Admin) -> RuleOut:
    """Add a rule."""
    who = _who(request, user)
    try:
        rule_id = await service.create_rule(session, body, who=who)
    except RuleRefusedError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await _rule_or_404(session, rule_id, who)


@router.put("/notification-rules/{rule_id}", responses=NoRule)
async def replace_rule(
    request: Request, session: SessionDep, rule_id: IntId, body: RuleIn, user: Admin
) -> RuleOut:
    """Replace a rule."""
    who = _who(request, user)
    await _rule_or_404(session, rule_id, who)
    try:
        await service.replace_rule(session, rule_id, body, who=who)
    except RuleRefusedError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await _rule_or_404(session, rule_id, who)


@router.delete("/notification-rules/{rule_id}", status_code=HTTP_204_NO_CONTENT, responses=NoRule)
async def delete_rule(
    request: Request, session: SessionDep, rule_id: IntId, user: Admin
) -> Response:
    """Delete a rule."""
    who = _who(request, user)
    await _rule_or_404(session, rule_id, who)
    await service.delete_rule(session, rule_id, who=who)
    return Response(status_code=HTTP_204_NO_CONTENT)


@router.get("/me/notification-contact", responses=PersonOnly)
async def my_contact(session: SessionDep, user: Viewer) -> ContactOut:
    """Your contact details."""
    return await service.show_contact(session, _person(user).user_id)


@router.put("/me/notification-contact", responses=ContactRefused)
async def save_my_contact(
    request: Request, session: SessionDep, body: ContactIn, user: Viewer
) -> ContactOut:
    """Save your contact details; the answer shows a new webhook signing key once."""
    return await service.save_contact(session, body, who=_who(request, _person(user)))


@router.post("/me/notification-contact/test", responses=PersonOnly)
async def send_me_a_test(request: Request, session: SessionDep, user: Viewer) -> TestSent:
    """Queue a test message to each of your channels."""
    queued = await service.queue_test(session, who=_who(request, _person(user)))
    if not queued:
        raise HTTPException(409, "you have no e-mail address or webhook to test: save one first")
    return TestSent(delivery_ids=queued)


async def _roster_or_404(session: SessionDep, roster_id: int) -> RosterOut:
    found = [r for r in await list_rosters(session, now=datetime.now(UTC)) if r.id == roster_id]
    if not found:
        raise HTTPException(404, f"no on-call roster {roster_id}")
    return found[0]


@router.get("/oncall-rosters", responses=AdminOnly)
async def rosters(session: SessionDep, user: Admin) -> list[RosterOut]:
    """Every on-call roster with its shifts and who is on call now."""
    return await list_rosters(session, now=datetime.now(UTC))


@router.post("/oncall-rosters", status_code=HTTP_201_CREATED, responses=NoRoster)
async def create_oncall_roster(
    request: Request, session: SessionDep, body: RosterIn, user: Admin
) -> RosterOut:
    """Add an on-call roster."""
    try:
        roster_id = await create_roster(session, body, who=_who(request, user))
    except RuleRefusedError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await _roster_or_404(session, roster_id)


@router.put("/oncall-rosters/{roster_id}", responses=NoRoster)
async def replace_oncall_roster(
    request: Request, session: SessionDep, roster_id: IntId, body: RosterIn, user: Admin
) -> RosterOut:
    """Replace an on-call roster's name, time zone and every shift."""
    if not await roster_exists(session, roster_id):
        raise HTTPException(404, f"no on-call roster {roster_id}")
    try:
        await replace_roster(session, roster_id, body, who=_who(request, user))
    except RuleRefusedError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return await _roster_or_404(session, roster_id)


@router.delete("/oncall-rosters/{roster_id}", status_code=HTTP_204_NO_CONTENT, responses=NoRoster)
async def delete_oncall_roster(
    request: Request, session: SessionDep, roster_id: IntId, user: Admin
) -> Response:
    """Delete an on-call roster (rules that named it stop naming it)."""
    if not await roster_exists(session, roster_id):
        raise HTTPException(404, f"no on-call roster {roster_id}")
    try:
        await delete_roster(session, roster_id, who=_who(request, user))
    except RuleRefusedError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return Response(status_code=HTTP_204_NO_CONTENT)
