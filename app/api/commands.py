"""Command API: operators queue and cancel; the site's edge long-polls and reports back."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.pagination import Cursor, Limit, Page, decode_cursor, page
from app.auth.dependencies import Commander, Viewer
from app.auth.devices import DeviceDep, bearer_token, device_for_token
from app.auth.permissions import may_command
from app.auth.service import SignedIn
from app.commands import delivery, service
from app.commands.policy import record_policy_action
from app.commands.queries import list_commands
from app.commands.requests import operator, site_ref
from app.commands.schemas import (
    ClearRequest,
    CommandRequest,
    CommandView,
    EdgeCommand,
    EdgeResult,
    PolicyActionReport,
)
from app.core.db import SessionDep
from app.core.errors import error_body
from app.core.ids import BigId
from app.fleet.access import VisibleSite, VisibleSiteKey
from app.live.hub import LiveHub, Subscription

router = APIRouter(prefix="/api/v1", tags=["commands"])

LONG_POLL_MAX_S = 30.0
# The edge retries after its own back-off; closing lets the server finish its shutdown.
SHUTTING_DOWN_HEADERS = {"Retry-After": "2", "Connection": "close"}


def refused(exc: service.CommandRefusedError) -> HTTPException:
    """409 whose message gives the reason and the remedy, also apart in the details."""
    refusal = exc.refusal
    details = [{"reason": refusal.reason, "remedy": refusal.remedy}]
    return HTTPException(409, error_body("conflict", str(refusal), details))


def check_role(user: SignedIn, kind: str, reason: str) -> None:
    """403 when the user's role may not send this kind of command for this reason."""
    refusal = may_command(user.role, kind, reason)
    if refusal is not None:
        raise HTTPException(403, refusal)


@router.post("/sites/{code}/commands", status_code=201, responses={404: {}, 409: {}, 422: {}})
async def queue(
    request: Request, session: SessionDep, site: VisibleSite, body: CommandRequest, user: Commander
) -> CommandView:
    """Queue a degrade-not-trip command after the interlocks; 409 says why it was refused."""
    check_role(user, body.kind.value, body.reason.value)
    try:
        command_id = await service.queue_command(
            session, site_ref(site), body, operator(request, user), datetime.now(UTC)
        )
    except service.CommandRefusedError as exc:
        raise refused(exc) from exc
    return (await list_commands(session, site.id, command_id=command_id))[0]


@router.get("/sites/{code}/commands")
async def commands(
    session: SessionDep, site: VisibleSiteKey, _: Viewer, limit: Limit = 50, cursor: Cursor = None
) -> Page[CommandView]:
    """A site's commands, newest first, with every lifecycle timestamp."""
    before = decode_cursor(cursor, int)[0] if cursor else None
    found = await list_commands(session, site.id, limit=limit + 1, before_id=before)
    return page(found, limit, lambda c: (c.id,))


@router.post("/sites/{code}/commands/{command_id}/cancel", responses={404: {}, 409: {}})
async def cancel(
    request: Request, session: SessionDep, site: VisibleSiteKey, command_id: BigId, user: Commander
) -> CommandView:
    """Cancel a command that is still queued."""
    try:
        await service.cancel_command(
            session, site.id, command_id, operator(request, user), datetime.now(UTC)
        )
    except service.CommandRefusedError as exc:
        raise refused(exc) from exc
    return (await list_commands(session, site.id, command_id=command_id))[0]


@router.post("/sites/{code}/commands/{command_id}/clear", responses={404: {}, 409: {}, 422: {}})
async def clear(
    request: Request,
    session: SessionDep,
    site: VisibleSiteKey,
    command_id: int,
    *,
    body: ClearRequest,
    user: Commander,
) -> CommandView:
    """End a command in any unfinished state, with a reason (audited); 409 when already over."""
    try:
        await service.clear_command(
            session,
            site.id,
            command_id,
            operator(request, user),
            reason=body.reason,
            now=datetime.now(UTC),
        )
    except service.CommandNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except service.CommandRefusedError as exc:
        raise refused(exc) from exc
    return (await list_commands(session, site.id, command_id=command_id))[0]


@router.get("/edge/commands", responses={401: {}, 503: {}})
async def edge_commands(
    request: Request, wait: Annotated[float, Query(ge=0, le=LONG_POLL_MAX_S)] = 0
) -> list[EdgeCommand]:
    """The device's commands: answers as soon as there are any, or after `wait` seconds.

    The wait holds no database connection: it sleeps on the process's LISTEN hub.
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    token = bearer_token(request)
    async with sessionmaker() as session:
        device = await device_for_token(session, token)
    hub: LiveHub = request.app.state.live
    subscription = hub.subscribe((device.site_id,))
    deadline = time.monotonic() + wait
    try:
        while True:
            subscription.take()  # earlier wake-ups are covered by looking at the database now
            async with sessionmaker() as session, session.begin():
                found = await delivery.deliver(session, device, datetime.now(UTC))
            if found:
                return found
            if subscription.closed:
                raise HTTPException(
                    503,
                    "the backend is shutting down; poll again shortly",
                    headers=SHUTTING_DOWN_HEADERS,
                )
            if not await _told_of_commands(request, subscription, deadline):
                return found
    finally:
        hub.unsubscribe(subscription)


async def _told_of_commands(request: Request, subscription: Subscription, deadline: float) -> bool:
    """Wait for a commands notification; False at the deadline or when the edge hung up."""
    while (left := deadline - time.monotonic()) > 0:
        try:
            await asyncio.wait_for(_until(subscription, "commands"), min(left, 1.0))
            return True
        except TimeoutError:
            # Checked every second, so an edge that hung up leaves no waiter behind.
            if await request.is_disconnected():
                return False
    return False


async def _until(subscription: Subscription, kind: str) -> None:
    """Return once a change of `kind` has been seen (other kinds are ignored) or it closed."""
    while kind not in subscription.kinds and not subscription.closed:
        subscription.changed.clear()
        await subscription.changed.wait()


REPORT_REFUSALS = {
    delivery.Reported.LATE: "it came after the command's deadline (or after an operator cleared "
    "it): recorded as late, its state stays",
    delivery.Reported.ELSEWHERE: "this device was never given that command",
}


@router.post(
    "/edge/commands/{command_id}/result",
    response_model=CommandView,
    responses={401: {}, 404: {}, 409: {}},
)
async def edge_result(
    session: SessionDep, device: DeviceDep, command_id: BigId, body: EdgeResult
) -> CommandView | JSONResponse:
    """Record what the edge did (acked by the BMS, refused by the edge, or failed).

    409 when the report changes nothing: late (kept with the command as a late report) or
    from a device the command was not delivered to.
    """
    outcome = await delivery.report(session, device, command_id, body, datetime.now(UTC))
    found = await list_commands(session, device.site_id, command_id=command_id)
    if outcome is delivery.Reported.MISSING or not found:
        raise HTTPException(404, f"this site has no command {command_id}")
    if outcome in REPORT_REFUSALS:
        message = f"report on command {command_id} not applied: {REPORT_REFUSALS[outcome]}"
        # Answered, not raised: the late report it recorded is committed with the answer.
        body_ = error_body("conflict", message, [{"state": found[0].state}])
        return JSONResponse(body_, status_code=409)
    return found[0]


@router.post("/edge/policy-actions", status_code=201, responses={200: {}, 401: {}, 422: {}})
async def edge_policy_action(
    response: Response, session: SessionDep, device: DeviceDep, body: PolicyActionReport
) -> CommandView:
    """Record an action the edge's local policy took by itself (201; 200 when already recorded)."""
    try:
        command_id, created = await record_policy_action(session, device, body)
    except service.CommandRefusedError as exc:
        raise HTTPException(422, f"policy action {body.ref}: {exc}") from exc
    if not created:
        response.status_code = 200
    return (await list_commands(session, device.site_id, command_id=command_id))[0]
