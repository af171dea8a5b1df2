"""The fleet page: every site by exception (worst first), sortable and filterable."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from app.auth.dependencies import Viewer
from app.core.db import SessionDep
from app.core.filters import UrlFilters
from app.core.htmx import render
from app.fleet.overview import SEVERITY, SiteOverview, SiteState, site_overviews

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class FleetRow:
    """A site and its state now."""

    site: SiteOverview
    state: SiteState


def _none_last(value: float | None) -> tuple[bool, float]:
    return (value is None, value or 0.0)


SORTS: dict[str, Callable[[FleetRow, datetime], Any]] = {
    "state": lambda r, now: (SEVERITY[r.state], -r.site.alarms_total, r.site.name),
    "name": lambda r, now: r.site.name.lower(),
    "soc": lambda r, now: _none_last(r.site.soc_pct),
    "power": lambda r, now: _none_last(r.site.power_kw),
    "capacity": lambda r, now: _none_last(r.site.capacity_online_pct),
    "alarms": lambda r, now: tuple(
        -n for n in (r.site.alarms_p1, r.site.alarms_p2, r.site.alarms_p3, r.site.alarms_p4)
    ),
    "spread": lambda r, now: _none_last(-(r.site.worst_spread_mv or 0)),
    "age": lambda r, now: (now - r.site.last_data_at) if r.site.last_data_at else now - now.min,
}
COLUMNS = (
    ("name", "Site", ""),
    ("state", "State", ""),
    ("soc", "SoC", "num"),
    ("power", "Power", "num"),
    ("capacity", "Capacity online", "num"),
    ("alarms", "Active alarms", ""),
    ("spread", "Worst spread", "num"),
    ("age", "Data age", "num"),
)


def _matches(row: FleetRow, q: str, state: str) -> bool:
    text_ok = not q or q.lower() in f"{row.site.name} {row.site.code}".lower()
    return text_ok and (not state or row.state == state)


class FleetQuery(UrlFilters):
    """Filters and order of the fleet table, all in the URL so a view can be shared."""

    q: str = ""
    state: Literal["", "offline", "tripped", "isolated", "degraded", "normal"] = ""
    sort: Literal["state", "name", "soc", "power", "capacity", "alarms", "spread", "age"] = "state"
    dir: Literal["asc", "desc"] = "asc"


@router.get("/", response_class=HTMLResponse)
async def fleet_page(
    request: Request, session: SessionDep, query: Annotated[FleetQuery, Query()], user: Viewer
) -> HTMLResponse:
    """Every site the user sees: state, SoC, power, capacity, alarms, worst spread, data age."""
    now = datetime.now(UTC)
    sites = await site_overviews(session, user.sites())
    rows = [FleetRow(site, site.state(now)) for site in sites]
    q, state, sort, desc = query.q, query.state, query.sort, query.dir == "desc"
    shown = sorted(
        (r for r in rows if _matches(r, q, state)),
        key=lambda r: SORTS[sort](r, now),
        reverse=desc,
    )

    def sort_query(key: str) -> str:
        flip = "desc" if key == sort and not desc else "asc"
        return urlencode({"q": q, "state": state, "sort": key, "dir": flip})

    context = {
        "rows": shown,
        "any_sites": bool(rows),
        "now": now,
        "active": "fleet",
        "q": q,
        "state_filter": state,
        "sort": sort,
        "desc": desc,
        "columns": COLUMNS,
        "sort_query": sort_query,
    }
    return render(request, request.app.state.templates, "fleet.html", context)
