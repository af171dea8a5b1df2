"""The battery health pages: a site's weak-cell watch list with its evidence and methods, and
the fleet's, merged across the sites a person may see."""

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from app.auth.dependencies import Viewer
from app.core.db import SessionDep
from app.core.htmx import render
from app.fleet.access import VisibleSite
from app.health.fleet_watch import fleet_watch_rows
from app.health.leakage import MIN_WEEK_DAYS, LeakWeek, cell_weeks, site_level_ma
from app.health.queries import ScorePoint, WatchRow, latest_watch_day, score_history, watch_rows
from app.health.scoring import REST_C_RATE
from app.health.watchlist import WatchSettings
from app.telemetry.rollups import DEFAULT_LOAD_C_RATE

router = APIRouter(include_in_schema=False)
SHOWN = 20  # the page shows the top of the list; the API pages through all of it
CHART_W, CHART_H = 160, 32
OFFSET_FLOOR_MV = 5.0  # the offset chart spans at least +-5 mV, so noise stays flat
WEEKS_SHOWN = 4  # the weekly self-discharge column: this week and the three before


@dataclass(frozen=True)
class OffsetChart:
    """A cell's daily mean voltage against its module's median, drawn as the gap in mV."""

    points: str  # the cell's offset per day
    zero_y: float  # where the module's median (offset 0) runs
    latest_mv: float | None


@dataclass(frozen=True)
class WatchLine:
    """One row of the page: the entry and its score history drawn as a sparkline."""

    row: WatchRow
    alarm: bool
    points: str  # SVG polyline points of the entry's regime, oldest day on the left
    weeks: list[LeakWeek]  # its apparent self-discharge per calendar week, oldest first
    offsets: OffsetChart  # its voltage against its module's median, day by day


def sparkline(history: list[ScorePoint], regime: str) -> str:
    """SVG points for a cell's daily values in one regime, scaled to the chart box."""
    values = [{"load": p.load, "rest": p.rest, "leak": p.leak_ma}[regime] for p in history]
    known = [v for v in values if v is not None]
    return scaled_points(values, min([0.0, *known]), max([1.0, *known]))


def scaled_points(values: list[float | None], bottom: float, top: float) -> str:
    """SVG points for daily values between bottom and top, oldest on the left; gaps stay gaps
    and fewer than two values draw nothing."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    step = CHART_W / max(len(values) - 1, 1)
    height = (top - bottom) / CHART_H
    return " ".join(f"{i * step:.1f},{CHART_H - (v - bottom) / height:.1f}" for i, v in known)


def offset_chart(history: list[ScorePoint], regime: str) -> OffsetChart:
    """The evidence in volts for the entry's regime: under load while discharging for a load
    entry (where a resistive cell sags), else at rest (where a leak or a fade shows)."""
    if regime == "load":
        values = [p.discharge_offset_mv for p in history]
    else:
        values = [p.rest_offset_mv for p in history]
    known = [v for v in values if v is not None]
    bottom = min([-OFFSET_FLOOR_MV, *known])
    top = max([OFFSET_FLOOR_MV, *known])
    zero_y = round(CHART_H - (0.0 - bottom) / ((top - bottom) / CHART_H), 1)
    return OffsetChart(scaled_points(values, bottom, top), zero_y, known[-1] if known else None)


async def watch_lines(session: SessionDep, site_id: int, day: datetime) -> list[WatchLine]:
    """The day's top entries, each with its evidence."""
    alarm = WatchSettings().alarm_score
    lines = []
    for row in await watch_rows(session, site_id=site_id, day=day, limit=SHOWN):
        history = await score_history(session, module_id=row.module_id, cell=row.cell, day=day)
        weeks = await cell_weeks(
            session, module_id=row.module_id, cell=row.cell, last=day, weeks=WEEKS_SHOWN - 1
        )
        chart = offset_chart(history, row.regime)
        lines.append(
            WatchLine(row, row.score >= alarm, sparkline(history, row.regime), weeks, chart)
        )
    return lines


@router.get("/sites/{code}/health", response_class=HTMLResponse)
async def health_page(request: Request, session: SessionDep, site: VisibleSite) -> HTMLResponse:
    """The weak-cell watch list of the latest ranked day, with each indicator's definition."""
    day = await latest_watch_day(session, site_id=site.id)
    try:
        leak_level: float | str = await site_level_ma(session, site.id)
    except ValueError as refused:  # shown where the level would be, so it gets fixed
        leak_level = str(refused)
    context = {
        "site": site,
        "day": day,
        "lines": await watch_lines(session, site.id, day) if day else [],
        "settings": WatchSettings(),
        "leak_level": leak_level,
        "min_week_days": MIN_WEEK_DAYS,
        "load_c_rate": DEFAULT_LOAD_C_RATE,
        "rest_c_rate": REST_C_RATE,
        "chart": (CHART_W, CHART_H),
        "active": "fleet",
    }
    return render(request, request.app.state.templates, "health.html", context)


@router.get("/health", response_class=HTMLResponse)
async def fleet_health_page(request: Request, session: SessionDep, user: Viewer) -> HTMLResponse:
    """The highest-scoring cells across the visible sites, each from its site's latest day."""
    rows = await fleet_watch_rows(session, sites=user.sites(), after=None, limit=SHOWN)
    context = {
        "rows": rows,
        "alarm_score": WatchSettings().alarm_score,
        "active": "fleet",
    }
    return render(request, request.app.state.templates, "fleet_health.html", context)
