"""The battery health page of a site: the weak-cell watch list with its evidence and methods."""

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from app.core.db import SessionDep
from app.core.htmx import render
from app.fleet.access import VisibleSite
from app.health.queries import ScorePoint, WatchRow, latest_watch_day, score_history, watch_rows
from app.health.scoring import REST_C_RATE
from app.health.watchlist import WatchSettings
from app.telemetry.rollups import DEFAULT_LOAD_C_RATE

router = APIRouter(include_in_schema=False)
SHOWN = 20  # the page shows the top of the list; the API pages through all of it
CHART_W, CHART_H = 160, 32


@dataclass(frozen=True)
class WatchLine:
    """One row of the page: the entry and its score history drawn as a sparkline."""

    row: WatchRow
    alarm: bool
    points: str  # SVG polyline points of the entry's regime, oldest day on the left


def sparkline(history: list[ScorePoint], regime: str) -> str:
    """SVG points for a cell's daily values in one regime, scaled to the chart box."""
    values = [{"load": p.load, "rest": p.rest, "leak": p.leak_ma}[regime] for p in history]
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    top = max(1.0, *(v for _, v in known))
    bottom = min(0.0, *(v for _, v in known))
    step = CHART_W / max(len(values) - 1, 1)
    height = (top - bottom) / CHART_H
    return " ".join(f"{i * step:.1f},{CHART_H - (v - bottom) / height:.1f}" for i, v in known)


async def watch_lines(session: SessionDep, site_id: int, day: datetime) -> list[WatchLine]:
    """The day's top entries, each with its evidence."""
    alarm = WatchSettings().alarm_score
    lines = []
    for row in await watch_rows(session, site_id=site_id, day=day, limit=SHOWN):
        history = await score_history(session, module_id=row.module_id, cell=row.cell, day=day)
        lines.append(WatchLine(row, row.score >= alarm, sparkline(history, row.regime)))
    return lines


@router.get("/sites/{code}/health", response_class=HTMLResponse)
async def health_page(request: Request, session: SessionDep, site: VisibleSite) -> HTMLResponse:
    """The weak-cell watch list of the latest ranked day, with each indicator's definition."""
    day = await latest_watch_day(session, site_id=site.id)
    context = {
        "site": site,
        "day": day,
        "lines": await watch_lines(session, site.id, day) if day else [],
        "settings": WatchSettings(),
        "load_c_rate": DEFAULT_LOAD_C_RATE,
        "rest_c_rate": REST_C_RATE,
        "chart": (CHART_W, CHART_H),
        "active": "fleet",
    }
    return render(request, request.app.state.templates, "health.html", context)
