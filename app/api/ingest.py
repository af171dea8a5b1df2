"""POST /api/v1/ingest: the edge's telemetry upload."""

import zlib
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.exc import SQLAlchemyError

from app.auth.devices import DeviceDep
from app.config import Settings
from app.core.db import SessionDep
from app.core.errors import error_body
from app.ingest.clock import SENT_AT_HEADER, check_edge_clock, edge_clock_offset
from app.ingest.failures import IngestFailures
from app.ingest.parsing import EnvelopeError, ParsedBatch, parse_batch
from app.ingest.schemas import IngestResponse
from app.ingest.service import ingest_batch

router = APIRouter(prefix="/api/v1", tags=["ingest"])


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped if needed; 413 past `limit` bytes either way."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"payload exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("Content-Encoding", "").lower() != "gzip":
        return body
    inflater = zlib.decompressobj(wbits=31)
    try:
        # max_length stops a small gzip bomb from inflating past the limit.
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise HTTPException(400, f"body is not valid gzip: {exc}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise HTTPException(413, f"decompressed payload exceeds the limit of {limit} bytes")
    return data


def read_batch(body: bytes) -> ParsedBatch:
    """The parsed batch, or 400/422 saying which field is wrong and why."""
    try:
        return parse_batch(body)
    except EnvelopeError as exc:
        if exc.status == 400:
            raise HTTPException(400, exc.message) from exc
        raise HTTPException(422, error_body("invalid_batch", exc.message, exc.details)) from exc


@router.post(
    "/ingest",
    response_model=IngestResponse,
    responses={400: {}, 401: {}, 403: {}, 413: {}, 422: {}},
    summary="Upload a telemetry batch from an edge device",
)
async def ingest(request: Request, session: SessionDep, device: DeviceDep) -> IngestResponse:
    """Store a batch exactly once; the answer lists what was new, already stored, or refused."""
    settings: Settings = request.app.state.settings
    batch = read_batch(await read_body(request, settings.ingest_max_bytes))
    site = batch.envelope.site
    if site != device.site_code:
        raise HTTPException(
            403, f"this device's token is for site {device.site_code!r}, not {site!r}"
        )
    now = datetime.now(UTC)
    offset = edge_clock_offset(request.headers.get(SENT_AT_HEADER), now)
    failures: IngestFailures = request.app.state.ingest_failures
    try:
        response = await ingest_batch(
            session,
            device=device,
            batch=batch,
            now=now,
            max_future=timedelta(seconds=settings.ingest_max_future_s),
            max_past=settings.ingest_max_past,
        )
        await check_edge_clock(
            session,
            device.site_id,
            offset=offset,
            now=now,
            limit_s=settings.ingest_clock_skew_alarm_s,
        )
        await failures.stored(session, device.site_id, now)
        await session.flush()
    except (SQLAlchemyError, psycopg.Error) as exc:  # the database refused it, not the batch
        await failures.failed(request.app.state.sessionmaker, device.site_id, exc, now)
        raise
    return response
