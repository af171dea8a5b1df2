"""REST API v1 for battery health: the weak-cell watch list of a site and of the fleet, ranked,
a page at a time."""

from dataclasses import asdict
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from app.api.pagination import Cursor, Limit, Page, decode_cursor, page
from app.auth.dependencies import Viewer
from app.core.db import SessionDep
from app.core.errors import error_body
from app.fleet.access import VisibleSiteKey
from app.health.fleet_watch import FleetKey, FleetWatchRow, fleet_watch_rows
from app.health.queries import WatchRow, latest_watch_day, watch_rows
from app.health.watchlist import WatchSettings

router = APIRouter(prefix="/api/v1", tags=["health"])


class WatchEntryOut(BaseModel):
    """One cell on the watch list (definitions in docs/HEALTH.md and on the health page)."""

    rank: int = Field(description="1 = the cell leaving its module fastest")
    day: date = Field(description="the UTC day the list was computed for")
    module_id: int
    string: int
    position: int = Field(description="the module's place in its string")
    cell: int = Field(description="1-based cell number in the module")
    score: float = Field(description="rise of the Theil-Sen trend over the window, in spreads")
    regime: str = Field(description="'load', 'rest' or 'leak' (apparent self-discharge)")
    slope_per_day: float
    cusum: float = Field(description="one-sided CUSUM over the window's first-week baseline")
    level: float = Field(description="the latest day's deviation score in that regime")
    days: int = Field(description="days with a score in the window")
    alarm: bool = Field(description="score at or above the alarm level")

    @classmethod
    def of(cls, row: WatchRow, day: datetime, alarm_score: float) -> "WatchEntryOut":
        """The API's view of a stored entry."""
        return cls(day=day.date(), alarm=row.score >= alarm_score, **asdict(row))


def _day_start(day: date) -> datetime:
    """The UTC midnight a day starts at (days are ranked in UTC)."""
    return datetime.combine(day, time(0), tzinfo=UTC)


@router.get("/sites/{code}/health/watchlist", responses={404: {}, 422: {}})
async def watchlist(
    session: SessionDep,
    site: VisibleSiteKey,
    day: Annotated[date | None, Query(description="UTC day; the latest ranked by default")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[WatchEntryOut]:
    """A site's weak-cell watch list for a day, highest score first."""
    latest = await latest_watch_day(session, site_id=site.id)
    shown = _day_start(day) if day is not None else latest
    if day is not None and (latest is None or _day_start(day) > latest):
        ranked = latest.date().isoformat() if latest else "none yet"
        details = [
            {
                "field": "query.day",
                "value": day.isoformat(),
                "message": f"not ranked yet (the latest ranked day: {ranked})",
            }
        ]
        raise HTTPException(422, error_body("validation_error", "the request is invalid", details))
    if shown is None:
        return Page[WatchEntryOut](items=[], next_cursor=None)
    after = decode_cursor(cursor, int)[0] if cursor else 0
    rows = await watch_rows(session, site_id=site.id, day=shown, after=after, limit=limit + 1)
    alarm = WatchSettings().alarm_score
    return page([WatchEntryOut.of(r, shown, alarm) for r in rows], limit, lambda e: (e.rank,))


class FleetWatchEntryOut(WatchEntryOut):
    """A cell on the fleet's watch list: its site's latest ranked day, merged by score."""

    site: str = Field(description="the site's code")
    site_name: str

    @classmethod
    def of_fleet(cls, row: FleetWatchRow, alarm_score: float) -> "FleetWatchEntryOut":
        """The API's view of a fleet entry."""
        entry = WatchEntryOut.of(row.entry, row.day, alarm_score)
        return cls(site=row.site_code, site_name=row.site_name, **entry.model_dump())


@router.get("/health/watchlist", responses={422: {}})
async def fleet_watchlist(
    session: SessionDep, user: Viewer, limit: Limit = 50, cursor: Cursor = None
) -> Page[FleetWatchEntryOut]:
    """The weak cells of every site you may see, highest score first (each site's latest day)."""
    after = FleetKey(*decode_cursor(cursor, float, str, int)) if cursor else None
    rows = await fleet_watch_rows(session, sites=user.sites(), after=after, limit=limit + 1)
    alarm = WatchSettings().alarm_score
    items = [FleetWatchEntryOut.of_fleet(r, alarm) for r in rows]
    return page(items, limit, lambda e: (repr(e.score), e.site, e.rank))
