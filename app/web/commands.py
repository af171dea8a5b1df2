"""Command controls in the browser: a form, a confirmation that states the impact, then send."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.auth.dependencies import Commander
from app.auth.permissions import may_command
from app.auth.service import SignedIn
from app.commands import service
from app.commands.impact import describe_impact
from app.commands.interlocks import Refusal
from app.commands.queries import list_commands, string_capacities
from app.commands.requests import operator, site_ref
from app.commands.schemas import ClearRequest, CommandRequest
from app.core.db import SessionDep
from app.core.htmx import is_htmx, render
from app.core.ids import BigId
from app.fleet.access import VisibleSite

router = APIRouter(include_in_schema=False)


async def _form(request: Request) -> dict[str, Any]:
    """The posted form's text fields."""
    fields = (await request.form()).items()
    return {k: v for k, v in fields if isinstance(v, str) and k != "csrf_token"}


def _request(fields: dict[str, Any]) -> CommandRequest:
    """The form as a command request; blank optional fields are absent."""
    present = {k: v for k, v in fields.items() if v not in (None, "")}
    return CommandRequest.model_validate(present)


def _problems(exc: ValidationError) -> list[str]:
    """Each problem as 'field: why' ('request' when it concerns the fields together)."""
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "request"
        out.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return out


@router.post("/sites/{code}/commands/preview", response_class=HTMLResponse)
async def preview(
    request: Request, session: SessionDep, site: VisibleSite, user: Commander
) -> HTMLResponse:
    """Step one: what the command would do, or why the interlocks would refuse it; no send."""
    context: dict[str, Any] = {"site": site, "fields": await _form(request), "preview": True}
    command = _allowed(request, context, user)
    if isinstance(command, HTMLResponse):
        return command
    context["command"] = command
    try:
        await service.checked_target(session, site=site_ref(site), request=command)
    except service.CommandRefusedError as exc:
        context["refusal"] = exc.refusal  # no "Confirm and send" for what would be refused
        return _answer(request, context, 409)
    capacities = await string_capacities(session, site_id=site.id)
    context["impact"] = describe_impact(command, capacities, site.nameplate_power_kw)
    return _answer(request, context, 200)


@router.post("/sites/{code}/commands/send", response_class=HTMLResponse)
async def send(
    request: Request, session: SessionDep, site: VisibleSite, user: Commander
) -> HTMLResponse:
    """Step two: queue it (after the interlocks); the answer says what happened."""
    context: dict[str, Any] = {"site": site, "fields": await _form(request)}
    command = _allowed(request, context, user)
    if isinstance(command, HTMLResponse):
        return command
    status = 200
    try:
        command_id = await service.queue_command(
            session, site_ref(site), command, operator(request, user), datetime.now(UTC)
        )
        context["queued"] = (await list_commands(session, site.id, command_id=command_id))[0]
        context["now"] = datetime.now(UTC)
    except service.CommandRefusedError as exc:
        context["refusal"], status = exc.refusal, 409
    return _answer(request, context, status)


def _allowed(
    request: Request, context: dict[str, Any], user: SignedIn
) -> CommandRequest | HTMLResponse:
    """The posted form as a command this user may send, or the answer that says why not."""
    try:
        command = _request(context["fields"])
    except ValidationError as exc:
        context["problems"] = _problems(exc)
        return _answer(request, context, 422)
    refusal = may_command(user.role, command.kind.value, command.reason.value)
    if refusal is not None:
        context["refusal"] = Refusal(refusal)
        return _answer(request, context, 403)
    return command


def _answer(request: Request, context: dict[str, Any], status: int) -> HTMLResponse:
    """The confirmation panel (inside the page for htmx, as a page without JavaScript)."""
    templates = request.app.state.templates
    return render(
        request, templates, "command_confirm.html", context, status_code=status, navigation=False
    )


@router.get("/sites/{code}/commands/{command_id}", response_class=HTMLResponse)
async def command_page(
    request: Request, session: SessionDep, site: VisibleSite, command_id: BigId
) -> HTMLResponse:
    """One command and where it is now: a page of its own, and the live part that follows it."""
    found = await list_commands(session, site.id, command_id=command_id)
    if not found:
        raise HTTPException(404, f"this site has no command {command_id}")
    context = {"site": site, "command": found[0], "now": datetime.now(UTC), "active": "fleet"}
    templates = request.app.state.templates
    return render(request, templates, "command.html", context, block="command_status")


@router.post("/sites/{code}/commands/{command_id}/clear")
async def clear(
    request: Request, session: SessionDep, site: VisibleSite, command_id: int, user: Commander
) -> Response:
    """The command page's form: end a stuck command with a reason (the API's clear, by form)."""
    fields = await _form(request)
    try:
        reason = ClearRequest.model_validate({"reason": fields.get("reason", "")}).reason
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(_problems(exc))) from exc
    try:
        await service.clear_command(
            session,
            site.id,
            command_id,
            operator(request, user),
            reason=reason,
            now=datetime.now(UTC),
        )
    except service.CommandNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except service.CommandRefusedError as exc:
        raise HTTPException(409, str(exc.refusal)) from exc
    if is_htmx(request):
        return Response(status_code=204)  # the live status refreshes itself on the change
    return RedirectResponse(f"/sites/{site.code}/commands/{command_id}", status_code=303)
