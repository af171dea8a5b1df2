"""SQL for ingest: asset lookup, batch bookkeeping, sample writes with conflict handling."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import errors as pg_errors
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest.models import IngestBatch, IngestRejection
from app.ingest.schemas import Rejection
from app.ingest.validation import ModuleAsset, SiteAssets
from app.sites.models import EdgeDevice, Module, Rack
from app.telemetry.copy_binary import module_rows_copy_data, scalar_rows_copy_data
from app.telemetry.repository import copy_data, driver_connection
from app.telemetry.schemas import (
    MODULE_SAMPLE_COLUMNS,
    RACK_SAMPLE_COLUMNS,
    RACK_SAMPLE_PG_TYPES,
    ModuleSampleRow,
    RackSampleRow,
)


async def site_assets(session: AsyncSession, site_id: int) -> SiteAssets:
    """A site's strings and modules keyed the way the edge addresses them."""
    racks = await session.execute(select(Rack.index, Rack.id).where(Rack.site_id == site_id))
    modules = await session.execute(
        select(
            Rack.index,
            Module.position,
            Module.id,
            Module.rack_id,
            Module.cell_count,
            Module.temp_count,
        )
        .join(Rack, Rack.id == Module.rack_id)
        .where(Rack.site_id == site_id)
    )
    return SiteAssets(
        site_id=site_id,
        racks=dict(racks.tuples().all()),
        modules={(r, p): ModuleAsset(m, rk, c, t) for r, p, m, rk, c, t in modules},
    )


async def claim_batch(
    session: AsyncSession, *, device_id: int, edge_id: UUID, seq: int, values: dict[str, Any]
) -> bool:
    """Record a batch as stored; False when it already was (a replay)."""
    stmt = (
        insert(IngestBatch)
        .values(edge_device_id=device_id, edge_id=edge_id, seq=seq, **values)
        .on_conflict_do_nothing()
        .returning(IngestBatch.seq)
    )
    return (await session.execute(stmt)).first() is not None


@dataclass(frozen=True)
class SampleStream:
    """One batch's samples for a hypertable, encoded once for binary COPY.

    The same bytes go into the hypertable, into its staging twin when some samples are already
    stored, and into the staging table the latest-state upsert reads from.
    """

    table: str
    latest: str
    key: str
    columns: tuple[str, ...]
    count: int
    data: bytes


def module_stream(rows: list[ModuleSampleRow]) -> SampleStream:
    """Module samples ready for COPY."""
    data = module_rows_copy_data(rows)
    return SampleStream(
        "module_sample", "module_latest", "module_id", MODULE_SAMPLE_COLUMNS, len(rows), data
    )


def rack_stream(rows: list[RackSampleRow]) -> SampleStream:
    """String samples ready for COPY."""
    data = scalar_rows_copy_data(rows, RACK_SAMPLE_COLUMNS, RACK_SAMPLE_PG_TYPES)
    return SampleStream(
        "rack_sample", "rack_latest", "rack_id", RACK_SAMPLE_COLUMNS, len(rows), data
    )


async def write_samples(session: AsyncSession, samples: SampleStream) -> int:
    """Store samples; returns how many were new. Samples already stored are left untouched."""
    if not samples.count:
        return 0
    try:
        # Fast path: straight binary COPY. Overlaps are rare (replayed batches stop earlier).
        async with session.begin_nested():
            await copy_data(session, samples.table, samples.columns, samples.data)
        return samples.count
    except pg_errors.UniqueViolation:
        return await _write_through_staging(session, samples)


async def _stage(session: AsyncSession, like: str, samples: SampleStream) -> str:
    """COPY the samples into an empty per-connection temp table shaped like `like`."""
    stage = f"{like}_stage"
    await session.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {like}) ON COMMIT DELETE ROWS")
    )
    await session.execute(text(f"TRUNCATE {stage}"))
    await copy_data(session, stage, samples.columns, samples.data)
    return stage


async def _write_through_staging(session: AsyncSession, samples: SampleStream) -> int:
    stage = await _stage(session, samples.table, samples)
    names = ", ".join(samples.columns)
    conn = await driver_connection(session)
    cursor = await conn.execute(
        f"INSERT INTO {samples.table} ({names}) SELECT {names} FROM {stage} "  # noqa: S608 - fixed identifiers
        "ON CONFLICT DO NOTHING"
    )
    return cursor.rowcount


async def upsert_latest(session: AsyncSession, samples: SampleStream) -> None:
    """Move each asset's latest state forward to its newest sample here (never backward)."""
    if not samples.count:
        return
    # Staged from the bytes already encoded: several times cheaper than reading the rows back
    # from the hypertable by key, or binding every value as a parameter.
    stage = await _stage(session, samples.latest, samples)
    names = ", ".join(samples.columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in samples.columns if c != samples.key)
    await session.execute(
        text(
            f"INSERT INTO {samples.latest} ({names}) SELECT DISTINCT ON ({samples.key}) {names} "  # noqa: S608 - fixed identifiers
            f"FROM {stage} ORDER BY {samples.key}, ts DESC "
            f"ON CONFLICT ({samples.key}) DO UPDATE SET {updates} "
            f"WHERE {samples.latest}.ts < excluded.ts"
        )
    )


async def insert_rejections(
    session: AsyncSession,
    *,
    site_id: int,
    device_id: int,
    edge_id: UUID,
    seq: int,
    rejections: list[Rejection],
) -> None:
    """Keep refused rows with their reasons (values stored as text, truncated)."""
    if not rejections:
        return
    await session.execute(
        insert(IngestRejection),
        [
            {
                "site_id": site_id,
                "edge_device_id": device_id,
                "edge_id": edge_id,
                "seq": seq,
                "section": r.section,
                "row_index": r.row,
                "field": r.field,
                "value": None if r.value is None else str(r.value)[:500],
                "reason": r.reason,
            }
            for r in rejections
        ],
    )


async def touch_device(
    session: AsyncSession, *, device_id: int, seen_at: datetime, version: str
) -> None:
    """Record that a device was heard from, and its software version."""
    await session.execute(
        update(EdgeDevice)
        .where(EdgeDevice.id == device_id)
        .values(last_seen_at=seen_at, software_version=version)
    )


async def rejection_summary(
    session: AsyncSession, *, site_id: int, since: datetime
) -> list[tuple[str, str, int, datetime]]:
    """Refused rows of a site since a time: (section, reason, count, last seen), most first."""
    result = await session.execute(
        text(
            "SELECT section, reason, count(*), max(received_at) FROM ingest_rejection "
            "WHERE site_id = :site_id AND received_at >= :since "
            "GROUP BY section, reason ORDER BY count(*) DESC, section, reason"
        ),
        {"site_id": site_id, "since": since},
    )
    return [(row[0], row[1], int(row[2]), row[3]) for row in result]
