"""The KPI page, per site or for the fleet, over a chosen window; definitions are on the page."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from app.auth.dependencies import Viewer
from app.core.db import SessionDep
from app.core.filters import UrlFilters
from app.core.htmx import render
from app.core.windows import WINDOWS
from app.fleet.access import chosen_site_id
from app.fleet.overview import site_overviews
from app.kpis import queries
from app.kpis.efficiency import MIN_CYCLE_SHARE
from app.kpis.report import kpi_report

router = APIRouter(include_in_schema=False)


class KpiQuery(UrlFilters):
    """Which site (blank: the fleet) and which window."""

    site: str = ""
    window: Literal["24h", "7d", "30d"] = "7d"


@router.get("/kpis", response_class=HTMLResponse)
async def kpi_page(
    request: Request, session: SessionDep, query: Annotated[KpiQuery, Query()], user: Viewer
) -> HTMLResponse:
    """Spread, MTTA, isolate time, MTTR, availability, efficiency, balancing, timeline, Pareto."""
    sites = user.sites(await chosen_site_id(session, user, query.site))
    end = datetime.now(UTC)
    start = end - WINDOWS[query.window]
    report = await kpi_report(session, sites, start, end)
    context = {
        "query": query,
        "sites": await site_overviews(session, user.sites()),
        "start": start,
        "end": end,
        "spread": report.spread_under_load,
        "mtta": report.mtta,
        "isolate": report.time_to_isolate,
        "mttr": report.mttr,
        "availability": report.availability,
        "rte": report.energy,
        "min_cycle_share": MIN_CYCLE_SHARE,
        "balancing": report.balancing,
        "pareto": report.fault_pareto,
        "timeline": await queries.isolation_timeline(session, sites, start, end),
        "now": end,
        "active": "kpis",
    }
    return render(request, request.app.state.templates, "kpis.html", context)
