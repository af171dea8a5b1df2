"""String and module pages: state now, per-cell voltages, trends and fault history."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, JSONResponse

from app.alarms.queries import EVERY_STATE, AlarmFilter, list_alarms
from app.core.db import SessionDep
from app.core.filters import UrlFilters
from app.core.htmx import render
from app.fleet.access import VisibleSite, VisibleSiteKey
from app.isolations.repository import recent_isolations
from app.sites.repository import rack_id_by_index
from app.telemetry.queries import (
    ModuleNow,
    first_sample_since,
    module_now,
    module_series,
    site_latest,
    string_series,
)
from app.web.site import string_rows
from app.web.trends import CHART_POINTS, RANGES, TrendRange, day_ago, default_range, series_json

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class CellBar:
    """One cell's bar: its voltage, height in the chart, and its marks."""

    number: int
    volts: float | None  # None: the BMS flagged the cell invalid; it is unknown
    height: float  # 0..1 within the module's own range, padded
    is_min: bool
    is_max: bool
    balancing: bool


def cell_bars(module: ModuleNow) -> list[CellBar]:
    """Per-cell bars scaled to the module's spread, so a 5 mV difference is visible."""
    cells: list[float | None] = module.cell_v or []
    known = [v for v in cells if v is not None]
    if not known:
        return []
    low, high = min(known), max(known)
    pad = max(0.005, (high - low) * 0.25)  # volts
    bottom, span = low - pad, (high - low) + 2 * pad
    balancing = module.balancing or 0
    return [
        CellBar(
            i + 1,
            v,
            0.0 if v is None else (v - bottom) / span,
            i == module.min_idx,
            i == module.max_idx,
            bool(balancing >> i & 1),
        )
        for i, v in enumerate(cells)
    ]


async def _module_or_404(session: AsyncSession, site_id: int, module_id: int) -> ModuleNow:
    module = await module_now(session, site_id, module_id)
    if module is None:
        raise HTTPException(404, f"this site has no module {module_id}")
    return module


class TrendQuery(UrlFilters):
    """The trend range in the URL; without one, a range that shows the data there is."""

    range: TrendRange | None = None


@router.get("/sites/{code}/modules/{module_id}", response_class=HTMLResponse)
async def module_page(
    request: Request,
    session: SessionDep,
    site: VisibleSite,
    module_id: int,
    query: Annotated[TrendQuery, Query()],
) -> HTMLResponse:
    """A module: cells now, temperatures, trends, fault history."""
    module = await _module_or_404(session, site.id, module_id)
    now = datetime.now(UTC)
    range = query.range or default_range(
        last=module.ts,
        first_today=await first_sample_since(session, module_id=module_id, since=day_ago(now)),
        now=now,
    )
    history = AlarmFilter(sites=(site.id,), module_id=module_id, states=EVERY_STATE, limit=50)
    context = {
        "site": site,
        "module": module,
        "cells": cell_bars(module),
        "alarms": await list_alarms(session, history),
        "range": range,
        "ranges": RANGES,
        "trend_url": f"/sites/{site.code}/modules/{module_id}/trend.json?range={range}",
        "now": now,
        "active": "fleet",
    }
    return render(request, request.app.state.templates, "module.html", context)


@router.get("/sites/{code}/modules/{module_id}/trend.json")
async def module_trend(
    session: SessionDep,
    site: VisibleSiteKey,
    module_id: int,
    range: TrendRange = "24h",
) -> JSONResponse:
    """A module's spread, SoC, current and temperature over a range, for the charts."""
    await _module_or_404(session, site.id, module_id)
    end = datetime.now(UTC)
    start = end - RANGES[range]
    series = await module_series(
        session, module_id=module_id, start=start, end=end, max_points=CHART_POINTS
    )
    return JSONResponse(series_json(series, start, end))


async def _string_or_404(session: AsyncSession, site_id: int, index: int) -> dict[str, Any]:
    latest = await site_latest(session, site_id=site_id)
    for rack in latest.racks:
        if rack["string"] == index:
            modules = [m for m in latest.modules if m["string"] == index]
            return {"rack": rack, "modules": modules}
    raise HTTPException(404, f"this site has no string {index}")


@router.get("/sites/{code}/strings/{index}", response_class=HTMLResponse)
async def string_page(
    request: Request,
    session: SessionDep,
    site: VisibleSite,
    index: int,
    query: Annotated[TrendQuery, Query()],
) -> HTMLResponse:
    """A string: state now, its modules, trends, isolations and fault history."""
    found = await _string_or_404(session, site.id, index)
    rack = found["rack"]
    now = datetime.now(UTC)
    range = query.range or default_range(
        last=rack["ts"],
        first_today=await first_sample_since(session, rack_id=rack["rack_id"], since=day_ago(now)),
        now=now,
    )
    isolations = await recent_isolations(session, site_id=site.id, rack_id=rack["rack_id"])
    history = AlarmFilter(sites=(site.id,), rack_id=rack["rack_id"], states=EVERY_STATE, limit=50)
    context = {
        "site": site,
        "string": string_rows([rack], isolations, {})[0],
        "modules": found["modules"],
        "isolations": isolations,
        "alarms": await list_alarms(session, history),
        "range": range,
        "ranges": RANGES,
        "trend_url": f"/sites/{site.code}/strings/{index}/trend.json?range={range}",
        "now": now,
        "active": "fleet",
    }
    return render(request, request.app.state.templates, "string.html", context)


@router.get("/sites/{code}/strings/{index}/trend.json")
async def string_trend(
    session: SessionDep,
    site: VisibleSiteKey,
    index: int,
    range: TrendRange = "24h",
) -> JSONResponse:
    """A string's spread, SoC, current, power, limits and hottest sensor, for the charts."""
    rack_id = await rack_id_by_index(session, site.id, index)
    if rack_id is None:
        raise HTTPException(404, f"this site has no string {index}")
    end = datetime.now(UTC)
    start = end - RANGES[range]
    series = await string_series(
        session, rack_id=rack_id, start=start, end=end, max_points=CHART_POINTS
    )
    return JSONResponse(series_json(series, start, end))
