"""REST API v1 for integrators and scripts: the registry, latest state, alarms, isolations, KPIs.

Every route needs a signed-in user or an API token and covers only the sites they may see; lists
are cursor-paged; errors use the one envelope of app.core.errors.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from app.alarms.access import actor, check_alarm_visible
from app.alarms.lifecycle import AlarmStateError, acknowledge
from app.alarms.queries import EVERY_STATE, STANDING, AlarmFilter, list_alarms
from app.api.pagination import Cursor, Limit, Page, decode_cursor, page
from app.api.queries import list_modules, list_strings
from app.api.schemas import (
    Acknowledgement,
    AlarmOut,
    IsolationOut,
    LatestOut,
    ModuleLatest,
    ModuleOut,
    SiteOut,
    StringLatest,
    StringOut,
    SystemLatest,
)
from app.auth.dependencies import Acknowledger, Viewer
from app.core.db import SessionDep
from app.core.ids import BigId
from app.core.windows import WINDOWS
from app.fleet.access import VisibleSite, VisibleSiteKey
from app.fleet.overview import site_overviews
from app.isolations.repository import recent_isolations
from app.kpis.report import KpiReport, kpi_report
from app.telemetry.queries import site_latest

router = APIRouter(prefix="/api/v1", tags=["api"])

NotFound: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such site (or not one of yours)"}
}


@router.get("/sites")
async def sites(
    session: SessionDep, user: Viewer, limit: Limit = 100, cursor: Cursor = None
) -> Page[SiteOut]:
    """The sites you may see, by code, with nameplate and headline state."""
    after = decode_cursor(cursor, str)[0] if cursor else ""
    now = datetime.now(UTC)
    shown = [s for s in await site_overviews(session, user.sites()) if s.code > after]
    shown.sort(key=lambda s: s.code)
    return page([SiteOut.of(s, now) for s in shown[: limit + 1]], limit, lambda s: (s.code,))


@router.get("/sites/{code}", responses=NotFound)
async def site(site: VisibleSite) -> SiteOut:
    """One site."""
    return SiteOut.of(site, datetime.now(UTC))


@router.get("/sites/{code}/strings", responses=NotFound)
async def strings(
    session: SessionDep, site: VisibleSiteKey, limit: Limit = 100, cursor: Cursor = None
) -> Page[StringOut]:
    """A site's strings by number."""
    after = decode_cursor(cursor, int)[0] if cursor else 0
    found = await list_strings(session, site.id, after=after, limit=limit + 1)
    return page(found, limit, lambda s: (s.string,))


@router.get("/sites/{code}/modules", responses=NotFound)
async def modules(
    session: SessionDep,
    site: VisibleSiteKey,
    string: Annotated[int | None, Query(ge=1, le=255)] = None,
    limit: Limit = 500,
    cursor: Cursor = None,
) -> Page[ModuleOut]:
    """A site's modules (or one string's), by id."""
    after = decode_cursor(cursor, int)[0] if cursor else 0
    found = await list_modules(session, site.id, string=string, after=after, limit=limit + 1)
    return page(found, limit, lambda m: (m.module_id,))


@router.get("/sites/{code}/latest", responses=NotFound)
async def latest(session: SessionDep, site: VisibleSite) -> LatestOut:
    """The last reported state of the system, every string and every module, as one snapshot."""
    state = await site_latest(session, site_id=site.id)
    return LatestOut(
        site=SiteOut.of(site, datetime.now(UTC)),
        system=None if state.system is None else SystemLatest(**state.system),
        strings=[StringLatest(**r) for r in state.racks],
        modules=[ModuleLatest(**m) for m in state.modules],
    )


AlarmState = Literal[
    "standing", "all", "unacked", "acked", "rtn_unacked", "shelved", "suppressed", "normal"
]


class AlarmQuery(BaseModel):
    """Which alarms: by state ('standing' by default, 'all' for history) and priority."""

    state: AlarmState = "standing"
    priority: int | None = Query(default=None, ge=1, le=4)


def _alarm_states(state: AlarmState) -> tuple[str, ...]:
    return {"standing": STANDING, "all": EVERY_STATE}.get(state, (state,))


@router.get("/sites/{code}/alarms", responses=NotFound)
async def alarms(
    session: SessionDep,
    site: VisibleSiteKey,
    query: Annotated[AlarmQuery, Query()],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AlarmOut]:
    """A site's alarms, newest first."""
    before = decode_cursor(cursor, int)[0] if cursor else None
    states = _alarm_states(query.state)
    where = AlarmFilter(
        sites=(site.id,),
        priority=query.priority,
        states=states,
        by_id=True,
        before_id=before,
        limit=limit + 1,
    )
    found = [AlarmOut.of(a) for a in await list_alarms(session, where)]
    return page(found, limit, lambda a: (a.id,))


@router.post("/alarms/{alarm_id}/acknowledge", responses={404: {}, 409: {}})
async def acknowledge_alarm(
    request: Request,
    session: SessionDep,
    alarm_id: BigId,
    body: Acknowledgement,
    user: Acknowledger,
) -> AlarmOut:
    """Acknowledge an alarm with a note; 409 when it has nothing to acknowledge."""
    await check_alarm_visible(session, user, alarm_id)
    now = datetime.now(UTC)
    try:
        await acknowledge(
            session, alarm_id, actor=actor(request, user), note=body.note.strip(), at=now
        )
    except AlarmStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    found = await list_alarms(session, AlarmFilter(alarm_id=alarm_id, states=EVERY_STATE))
    return AlarmOut.of(found[0])


@router.get("/sites/{code}/isolations", responses=NotFound)
async def isolations(
    session: SessionDep, site: VisibleSiteKey, limit: Limit = 100, cursor: Cursor = None
) -> Page[IsolationOut]:
    """A site's isolations, latest onset first, open or ended, with time to isolate."""
    before = decode_cursor(cursor, datetime, int) if cursor else None
    found = await recent_isolations(
        session,
        site_id=site.id,
        limit=limit + 1,
        before=(before[0], before[1]) if before else None,
    )
    return page([IsolationOut.of(i) for i in found], limit, lambda i: (i.onset_at, i.id))


Window = Literal["24h", "7d", "30d"]


@router.get("/sites/{code}/kpis", responses=NotFound)
async def site_kpis(session: SessionDep, site: VisibleSiteKey, window: Window = "7d") -> KpiReport:
    """A site's KPIs over the last 24 h, 7 d or 30 d (definitions on the KPI page)."""
    end = datetime.now(UTC)
    return await kpi_report(session, (site.id,), end - WINDOWS[window], end)


@router.get("/kpis")
async def fleet_kpis(session: SessionDep, user: Viewer, window: Window = "7d") -> KpiReport:
    """KPIs over every site you may see."""
    end = datetime.now(UTC)
    return await kpi_report(session, user.sites(), end - WINDOWS[window], end)
