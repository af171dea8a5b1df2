"""Telemetry over the API: pages of JSON, or a whole range exported as CSV, NDJSON or Parquet."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, model_validator
from starlette.responses import StreamingResponse

from app.api.export import MEDIA_TYPES, Format, export_bytes
from app.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from app.api.schemas import TelemetryRow
from app.auth.dependencies import Viewer
from app.config import Settings
from app.core.db import SessionDep
from app.core.errors import error_body
from app.core.streams import GuardedStream
from app.core.times import UtcTime
from app.fleet.access import VisibleSiteKey
from app.telemetry.export_query import (
    STEP_S,
    Entity,
    FieldError,
    Resolution,
    Selection,
    choose_fields,
    entity_count_statement,
    export_size,
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
    fields: str = Field(
        default="",
        max_length=1000,
        description="comma-separated field names; blank: the defaults. Currents "
        f"and powers (current_a…, power_kw): {CONVENTION}",
    )
    start: UtcTime | None = Field(default=None, description="default: an hour before end")
    end: UtcTime | None = Field(default=None, description="default: now")
    string: int | None = Field(default=None, ge=1, le=255)
    module: int | None = Field(default=None, ge=1, le=255, description="position, with string")

    @model_validator(mode="after")
    def _consistent(self) -> "TelemetryQuery":
        if self.module is not None and (self.entity is Entity.STRING or self.string is None):
            raise ValueError("module: a module position needs entity=module and a string")
        if self.entity is Entity.SYSTEM and self.string is not None:
            raise ValueError(
                "string: the system is the whole battery; drop string (or ask for entity=string)"
            )
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start: {self.start.isoformat()} is not before end")
        return self


def selection_of(query: TelemetryQuery, site_id: int) -> Selection:
    """The query as a selection of checked fields over a closed range; 422 naming the field."""
    try:
        fields = choose_fields(query.entity, query.resolution, query.fields)
    except FieldError as exc:
        details = [{"field": "query.fields", "message": str(exc), "value": query.fields}]
        raise HTTPException(
            422, error_body("validation_error", "the request is invalid", details)
        ) from exc
    end = (query.end or datetime.now(UTC)).astimezone(UTC)
    start = (query.start or end - DEFAULT_RANGE).astimezone(UTC)
    if start >= end:
        details = [
            {
                "field": "query.start",
                "message": "start must be before end",
                "value": start.isoformat(),
            }
        ]
        raise HTTPException(422, error_body("validation_error", "the request is invalid", details))
    return Selection(
        site_id=site_id,
        entity=query.entity,
        resolution=query.resolution,
        fields=fields,
        start=start,
        end=end,
        string=query.string,
        module=query.module,
    )


@router.get("/sites/{code}/telemetry", responses={404: {}, 422: {}})
async def telemetry(
    session: SessionDep,
    site: VisibleSiteKey,
    query: Annotated[TelemetryQuery, Query()],
    limit: Limit = 1000,
    cursor: Cursor = None,
) -> Page[TelemetryRow]:
    """Samples or buckets of a site's modules, strings or system (pack-level values), by entity
    then time; gaps stay gaps."""
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
    return TelemetryRow(
        ts=ts, string=string, module=module, values=dict(zip(selection.fields, values, strict=True))
    )


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "the file, streamed"},
    404: {},
    422: {"description": "an invalid query, or an export larger than the limit"},
    429: {"description": "too many exports running (yours, or in all); see Retry-After"},
}


async def check_export_size(
    session: SessionDep, selection: Selection, site_code: str, limit: int
) -> None:
    """422 naming the limit and the paging alternative when the export would be too large."""
    entities = int(
        (
            await session.execute(
                entity_count_statement(selection), parameters(selection, after=None, limit=None)
            )
        ).scalar_one()
    )
    size = export_size(selection, entities)
    if size.values <= limit:
        return
    step = STEP_S[selection.resolution]
    message = (
        f"this export could hold {size.values:,} values ({size.entities} {selection.entity}s x "
        f"{size.rows_per_entity:,} rows at one per {step} s x {size.fields} fields); the limit is "
        f"{limit:,} (RIDETHROUGH_EXPORT_MAX_VALUES). Export a shorter range, fewer fields or a "
        f"coarser resolution, or page through GET /api/v1/sites/{site_code}/telemetry with "
        "cursor=next_cursor"
    )
    detail = {"field": "query", "message": message, "value": size.values}
    raise HTTPException(422, error_body("export_too_large", message, [detail]))


@router.get("/sites/{code}/export", responses=EXPORT_RESPONSES, response_class=StreamingResponse)
async def export(
    request: Request,
    *,
    session: SessionDep,
    user: Viewer,
    site: VisibleSiteKey,
    query: Annotated[TelemetryQuery, Query()],
    format: Format = Format.CSV,
    layout: Annotated[str, Query(pattern="^(wide|long)$")] = "wide",
) -> StreamingResponse:
    """The whole range as one file, streamed: wide (a column per field) or long
    (ts, entity, metric, value). Limited in size, and in how many run at once."""
    settings: Settings = request.app.state.settings
    selection = selection_of(query, site.id)
    await check_export_size(session, selection, site.code, settings.export_max_values)
    slot = request.app.state.export_gate.enter(user.username)
    stamp = f"{selection.start:%Y%m%dT%H%MZ}-{selection.end:%Y%m%dT%H%MZ}"
    name = f"{site.code}-{selection.entity}-{selection.resolution}-{stamp}.{format}"
    per_query = settings.export_chunks_per_query
    body = export_bytes(
        request.app.state.export_sessionmaker,
        selection,
        format,
        long=layout == "long",
        chunks_per_query=per_query,
    )
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return GuardedStream(
        body,
        slot=slot,
        stall_timeout_s=settings.export_stall_timeout_s,
        media_type=MEDIA_TYPES[format],
        headers=headers,
    )
