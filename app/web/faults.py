"""The technician's fault log of a site: searchable, filtered, in plain language, as CSV too."""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.responses import HTMLResponse, StreamingResponse

from app.alarms.queries import EVERY_STATE, AlarmFilter, AlarmView, list_alarms
from app.core.csv_safety import csv_cell
from app.core.db import SessionDep
from app.core.filters import UrlFilters
from app.core.htmx import render
from app.core.windows import WINDOWS
from app.fleet.access import VisibleSite
from app.sites.repository import rack_id_by_index

router = APIRouter(include_in_schema=False)

LOG_ROWS = 300
CSV_ROWS = 100_000
CSV_COLUMNS = (
    "raised_at",
    "last_raised_at",
    "cleared_at",
    "state",
    "priority",
    "code",
    "title",
    "string",
    "module",
    "cell",
    "value",
    "threshold",
    "unit",
    "occurrences",
    "acked_at",
    "acked_by",
    "ack_note",
    "shelved_until",
    "shelve_reason",
    "message",
    "meaning",
    "operator_action",
    "technician_action",
    "safety_note",
)


class FaultQuery(UrlFilters):
    """Filters of the fault log, all in the URL (shareable, and reused by the CSV link)."""

    q: str = Field(default="", max_length=100)
    priority: int | None = Field(default=None, ge=1, le=4)
    status: Literal["all", "open", "cleared"] = "all"
    window: Literal["24h", "7d", "30d", "all"] = "7d"
    string: int | None = Field(default=None, ge=1, le=255)


def _filter(site_id: int, rack_id: int | None, query: FaultQuery, limit: int) -> AlarmFilter:
    # "Still open" is about the condition, whatever the operator did: a shelved alarm whose
    # condition cleared is listed as cleared.
    active = {"all": None, "open": True, "cleared": False}[query.status]
    since = None if query.window == "all" else datetime.now(UTC) - WINDOWS[query.window]
    return AlarmFilter(
        sites=(site_id,),
        rack_id=rack_id,
        priority=query.priority,
        states=EVERY_STATE,
        active=active,
        since=since,
        search=query.q.strip(),
        recent_first=True,
        limit=limit,
    )


async def _rack_id(session: SessionDep, site_id: int, index: int | None) -> int | None:
    """The string filter as a rack id; an unknown string number matches nothing."""
    if index is None:
        return None
    rack_id = await rack_id_by_index(session, site_id, index)
    return -1 if rack_id is None else rack_id


@router.get("/sites/{code}/faults", response_class=HTMLResponse)
async def fault_log(
    request: Request, session: SessionDep, site: VisibleSite, query: Annotated[FaultQuery, Query()]
) -> HTMLResponse:
    """A site's faults, newest first, each with its meaning and what to do."""
    rack_id = await _rack_id(session, site.id, query.string)
    faults = await list_alarms(session, _filter(site.id, rack_id, query, LOG_ROWS))
    context = {
        "site": site,
        "faults": faults,
        "query": query,
        "limit": LOG_ROWS,
        "csv_query": request.url.query,
        "now": datetime.now(UTC),
        "active": "fleet",
    }
    return render(request, request.app.state.templates, "faults.html", context)


def _csv_row(a: AlarmView) -> list[object]:
    def iso(ts: datetime | None) -> str:
        return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts else ""

    fault = a.fault
    return [
        iso(a.raised_at),
        iso(a.last_raised_at),
        iso(a.cleared_at),
        a.state,
        a.priority,
        a.code,
        fault.title,
        a.string or "",
        a.module or "",
        "" if a.cell_index is None else a.cell_index + 1,
        "" if a.value is None else a.value,
        "" if a.threshold is None else a.threshold,
        fault.unit,
        a.occurrences,
        iso(a.acked_at),
        a.acked_by or "",
        a.ack_note or "",
        iso(a.shelved_until),
        a.shelve_reason or "",
        a.message,
        fault.meaning,
        fault.operator_action,
        fault.technician_action,
        fault.safety_note,
    ]


def _csv_lines(faults: list[AlarmView]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for fault in faults:
        writer.writerow([csv_cell(cell) for cell in _csv_row(fault)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


@router.get("/sites/{code}/faults.csv")
async def fault_log_csv(
    session: SessionDep, site: VisibleSite, query: Annotated[FaultQuery, Query()]
) -> StreamingResponse:
    """The same fault log as CSV (UTC ISO-8601 times, cells numbered from 1)."""
    rack_id = await _rack_id(session, site.id, query.string)
    faults = await list_alarms(session, _filter(site.id, rack_id, query, CSV_ROWS))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
    headers = {"Content-Disposition": f'attachment; filename="{site.code}-faults-{stamp}.csv"'}
    return StreamingResponse(
        _csv_lines(faults), media_type="text/csv; charset=utf-8", headers=headers
    )
