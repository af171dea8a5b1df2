"""Telemetry over the API: pages of JSON, or a whole range exported as CSV, NDJSON or Parquet."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, model_validator
from starlette.responses import StreamingResponse

from app.api.export import MEDIA_TYPES, Format, export_bytes
from app.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from app.api.schemas import TelemetryRow
from app.core.db import SessionDep
from app.core.errors import error_body
from app.core.iso_times import AwareIsoTime
from app.sites.access import VisibleSiteKey
from app.telemetry.export_query import (
    Entity,
    FieldError,
    Resolution,
    Selection,
    choose_fields,
    parameters,
    statement,
)
from app.telemetry.sign import CONVENTION

router = APIRouter(prefix="/api/v1", tags=["telemetry"])

DEFAULT_RANGE = timedelta(hours=1)


class TelemetryQuery(BaseModel):
    """Whose telemetry, which fields, at what resolution, over what range (UTC offsets needed)."""

    entity: Entity = Entity.MODULE
    resolution: Resolution = Resolution.RAW
    fields: str = Field(default="", max_length=1000,
                        description="comma-separated field names; blank: the defaults. Currents "
                                    f"and powers (current_a…, power_kw): {CONVENTION}")  # fmt: skip
    start: AwareIsoTime | None = Field(default=None, description="default: an hour before end")
    end: AwareIsoTime | None = Field(default=None, description="default: now")
    string: int | None = Field(default=None, ge=1, le=255)
    module: int | None = Field(default=None, ge=1, le=255, description="position, with string")

    @model_validator(mode="after")
    def _consistent(self) -> "TelemetryQuery":
        if self.module is not None and (self.entity is Entity.STRING or self.string is None):
            raise ValueError("module: a module position needs entity=module and a string")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start: {self.start.isoformat()} is not before end")
        return self


def selection_of(query: TelemetryQuery, site_id: int) -> Selection:
    """The query as a selection of checked fields over a closed range; 422 naming the field."""
    try:
        fields = choose_fields(query.entity, query.resolution, query.fields)
    except FieldError as exc:
        details = [{"field": "query.fields", "message": str(exc), "value": query.fields}]
        raise HTTPException(422, error_body("validation_error", "the request is invalid",
                                            details)) from exc  # fmt: skip
    end = (query.end or datetime.now(UTC)).astimezone(UTC)
    start = (query.start or end - DEFAULT_RANGE).astimezone(UTC)
    if start >= end:
        details = [{"field": "query.start", "message": "start must be before end",
                    "value": start.isoformat()}]  # fmt: skip
        raise HTTPException(422, error_body("validation_error", "the request is invalid", details))
    return Selection(site_id=site_id, entity=query.entity, resolution=query.resolution,
                     fields=fields, start=start, end=end, string=query.string,
                     module=query.module)  # fmt: skip


@router.get("/sites/{code}/telemetry", responses={404: {}, 422: {}})
async def telemetry(
    session: SessionDep,
    site: VisibleSiteKey,
    query: Annotated[TelemetryQuery, Query()],
    limit: Limit = 1000,
    cursor: Cursor = None,
) -> Page[TelemetryRow]:
    """Samples or buckets of a site's modules or strings, by entity then time; gaps stay gaps."""
    selection = selection_of(query, site.id)
    after = decode_cursor(cursor, int, datetime) if cursor else None
    params = parameters(selection, after=(after[0], after[1]) if after else None, limit=limit + 1)
    rows = list(await session.execute(statement(selection, paged=True), params))
    more, rows = len(rows) > limit, rows[:limit]
    # The cursor is the last row's (entity id, time): the order the hypertables are keyed in.
    next_cursor = encode_cursor(rows[-1][3], rows[-1][0]) if more else None
    return Page(items=[_row(selection, r) for r in rows], next_cursor=next_cursor)


def _row(selection: Selection, row: Any) -> TelemetryRow:
    ts, string, module, _, *values = row
    return TelemetryRow(ts=ts, string=string, module=module,
                        values=dict(zip(selection.fields, values, strict=True)))  # fmt: skip


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "the file, streamed"},
    404: {},
    422: {},
}


@router.get("/sites/{code}/export", responses=EXPORT_RESPONSES, response_class=StreamingResponse)
async def export(
    request: Request,
    site: VisibleSiteKey,
    query: Annotated[TelemetryQuery, Query()],
    format: Format = Format.CSV,
    layout: Annotated[str, Query(pattern="^(wide|long)$")] = "wide",
) -> StreamingResponse:
    """The whole range as one file, streamed: wide (a column per field) or long
    (ts, entity, metric, value)."""
    selection = selection_of(query, site.id)
    stamp = f"{selection.start:%Y%m%dT%H%MZ}-{selection.end:%Y%m%dT%H%MZ}"
    name = f"{site.code}-{selection.entity}-{selection.resolution}-{stamp}.{format}"
    body = export_bytes(request.app.state.sessionmaker, selection, format, long=layout == "long")
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=MEDIA_TYPES[format], headers=headers)
