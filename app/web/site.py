"""The site page: KPI strip, strings with their state, heatmap, alarms, recent isolations."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse

from app.alarms.queries import AlarmFilter, AlarmView, list_alarms
from app.commands.queries import list_commands
from app.core.db import SessionDep
from app.core.enums import STR_DIS_RSN, DisableReason
from app.core.filters import UrlFilters
from app.core.htmx import render
from app.core.ttl_cache import TtlCache
from app.fleet.access import VisibleSite
from app.isolations.repository import IsolationView, recent_isolations
from app.sites.edges import site_edges
from app.telemetry.queries import StringSpread, site_latest, spread_per_string
from app.telemetry.sign import CONVENTION
from app.web.heatmap import METRICS, build_heatmap

router = APIRouter(include_in_schema=False)

HeatmapMetric = Literal["soc", "spread", "deviation", "temp", "soh"]
SPREAD_WINDOW = timedelta(hours=24)
SITE_ALARM_ROWS = 20
COMMAND_ROWS = 10  # the newest commands; older ones page on


# The system panel: (field, label, format, unit, explanation); a value not reported is left out.
SYSTEM_FIELDS = (
    ("soc_pct", "System SoC", "%.1f", "%", ""),
    ("soh_pct", "System SoH", "%.1f", "%", ""),
    ("voltage_v", "System voltage", "%.1f", "V", ""),
    ("current_a", "System current", "%.1f", "A", CONVENTION),
    ("power_kw", "System power", "%.1f", "kW", f"as the BMS reports it, else V x I; {CONVENTION}"),
    ("charge_limit_a", "Charge limit", "%.0f", "A", "the most charge current the BMS allows now"),
    ("discharge_limit_a", "Discharge limit", "%.0f", "A", "the most discharge current allowed"),
    ("charge_limit_kw", "Charge power limit", "%.1f", "kW", "the most charge power allowed now"),
    ("discharge_limit_kw", "Discharge power limit", "%.1f", "kW", "the most discharge power"),
)


class SiteQuery(UrlFilters):
    """The heatmap's metric and how far back the command list is paged, in the URL."""

    metric: HeatmapMetric = "spread"
    commands_before: int | None = None


@dataclass(frozen=True, slots=True)
class StringRow:
    """One string on the site page: latest values and its state in words."""

    latest: dict[str, Any]
    state: str  # closed / open / no data
    notes: list[str]  # derate, isolation and disable reason, in words
    spread_p95_mv: float | None


def derate_pct(rack: dict[str, Any]) -> float | None:
    """The tighter of the charge/discharge limits as a share of nameplate, when below it."""
    shares = [
        rack[limit] / rack[nameplate]
        for limit, nameplate in (
            ("charge_limit_a", "max_charge_a"),
            ("discharge_limit_a", "max_discharge_a"),
        )
        if rack[limit] is not None and rack[nameplate]
    ]
    share = min(shares, default=1.0)
    return 100.0 * share if share < 1.0 else None


def string_rows(
    racks: list[dict[str, Any]], isolations: list[IsolationView], spread: dict[int, float | None]
) -> list[StringRow]:
    """Each string with its state and the reasons behind it."""
    open_isolations = {
        i.string: i for i in isolations if i.returned_at is None and i.module_id is None
    }
    rows = []
    for rack in racks:
        notes = []
        derate = derate_pct(rack)
        if derate is not None:
            notes.append(f"derated to {derate:.0f} %")
        isolation = open_isolations.get(rack["string"])
        if isolation is not None:
            notes.append(
                f"isolated: {isolation.reason}, by {isolation.isolated_by.replace('_', ' ')}"
            )
        elif rack["disable_reason"]:
            reason = STR_DIS_RSN.get(rack["disable_reason"], DisableReason.OTHER)
            notes.append(f"disabled: {reason.value}")
        closed = rack["contactor_closed"]
        state = "no data" if closed is None else ("closed" if closed else "open")
        rows.append(StringRow(rack, state, notes, spread.get(rack["rack_id"])))
    return rows


def worst_priority_by_module(alarms: list[AlarmView]) -> dict[int, int]:
    """Each module's most urgent standing alarm priority."""
    worst: dict[int, int] = {}
    for alarm in alarms:
        if alarm.module_id is not None:
            worst[alarm.module_id] = min(alarm.priority, worst.get(alarm.module_id, 9))
    return worst


# The 24 h spread percentile reads ~1,500 minutes per string and moves slowly: it is computed
# at most once a minute per site and process, not on every live refresh.
SPREAD_TTL_S = 60.0
_spread_cache: TtlCache[int, list[StringSpread]] = TtlCache(SPREAD_TTL_S)


async def daily_spread(session: AsyncSession, site_id: int, now: datetime) -> list[StringSpread]:
    """Each string's spread p95 under load over the last 24 h, cached for a minute."""
    return await _spread_cache.get_or_load(
        site_id,
        lambda: spread_per_string(
            session, site_id=site_id, start=now - SPREAD_WINDOW, end=now, under_load=True
        ),
    )


async def _command_page(session: AsyncSession, site_id: int, before: int | None) -> dict[str, Any]:
    """One page of the site's commands, and where the next older page starts (if any)."""
    found = await list_commands(session, site_id, limit=COMMAND_ROWS + 1, before_id=before)
    shown = found[:COMMAND_ROWS]
    older = shown[-1].id if len(found) > COMMAND_ROWS else None
    return {"commands": shown, "older_commands": older, "commands_paged": before is not None}


@router.get("/sites/{code}", response_class=HTMLResponse)
async def site_page(
    request: Request, session: SessionDep, site: VisibleSite, query: Annotated[SiteQuery, Query()]
) -> HTMLResponse:
    """A site's strings, heatmap, alarms and isolations."""
    now, metric = datetime.now(UTC), query.metric
    latest = await site_latest(session, site_id=site.id)
    # Every standing alarm marks the heatmap; the list shows the most urgent, /alarms the rest.
    alarms = await list_alarms(session, AlarmFilter(sites=(site.id,), limit=5000))
    isolations = await recent_isolations(session, site_id=site.id, limit=10)
    spreads = await daily_spread(session, site.id, now)
    spread_by_rack = {s.rack_id: s.p95_mv for s in spreads}
    context = {
        "site": site,
        "state": site.state(now),
        "strings": string_rows(latest.racks, isolations, spread_by_rack),
        "system": latest.system,
        "system_fields": SYSTEM_FIELDS,
        "heatmap": build_heatmap(latest.modules, metric, worst_priority_by_module(alarms), now),
        "metric": metric,
        "metrics": METRICS,
        "alarms": alarms[:SITE_ALARM_ROWS],
        "alarms_total": len(alarms),
        "isolations": isolations,
        "edges": await site_edges(session, site_id=site.id),
        **await _command_page(session, site.id, query.commands_before),
        "spread_p95_mv": max((s.p95_mv for s in spreads if s.p95_mv is not None), default=None),
        "now": now,
        "active": "fleet",
    }
    return render(request, request.app.state.templates, "site.html", context)
