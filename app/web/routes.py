"""HTML pages; each renders as a full page, or as its content block for htmx."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from app.core.db import SessionDep
from app.core.htmx import render
from app.sites.repository import list_site_summaries

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def fleet_page(request: Request, session: SessionDep) -> HTMLResponse:
    """The fleet overview: every site, its size and data age."""
    sites = await list_site_summaries(session)
    context = {"sites": sites, "now": datetime.now(UTC), "active": "fleet"}
    return render(request, request.app.state.templates, "fleet.html", context)
