"""The KPI page, per site or for the fleet, over a chosen window; definitions are on the page."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from starlette.responses import HTMLResponse

from app.core.db import SessionDep
from app.core.htmx import render
from app.core.windows import WINDOWS
from app.kpis import queries
from app.sites.overview import site_overviews
from app.sites.repository import site_id_by_code

router = APIRouter(include_in_schema=False)


class KpiQuery(BaseModel):
    """Which site (blank: the fleet) and which window."""

    site: str = ""
    window: Literal["24h", "7d", "30d"] = "7d"


@router.get("/kpis", response_class=HTMLResponse)
async def kpi_page(
    request: Request, session: SessionDep, query: Annotated[KpiQuery, Query()]
) -> HTMLResponse:
    """Spread, MTTA, isolate time, MTTR, availability, efficiency, balancing, timeline, Pareto."""
    site_id = None
    if query.site:
        site_id = await site_id_by_code(session, query.site)
        if site_id is None:
            raise HTTPException(404, f"no site with code {query.site!r}")
    end = datetime.now(UTC)
    start = end - WINDOWS[query.window]
    window = (session, site_id, start, end)
    context = {
        "query": query,
        "sites": await site_overviews(session),
        "start": start,
        "end": end,
        "spread": await queries.spread_under_load(*window),
        "mtta": await queries.mtta(*window),
        "isolate": await queries.time_to_isolate(*window),
        "mttr": await queries.mttr(*window),
        "availability": await queries.availability(*window),
        "rte": await queries.round_trip_efficiency(*window),
        "balancing": await queries.balancing_speed(*window),
        "pareto": await queries.fault_pareto(*window),
        "timeline": await queries.isolation_timeline(*window),
        "now": end,
        "active": "kpis",
    }
    return render(request, request.app.state.templates, "kpis.html", context)
