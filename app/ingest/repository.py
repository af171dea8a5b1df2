"""SQL for ingest: asset lookup, batch bookkeeping, sample writes with conflict handling."""

from collections.abc import Sequence
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
from app.telemetry.repository import copy_module_rows, copy_rows, driver_connection
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


async def write_samples(
    session: AsyncSession, table: str, rows: Sequence[ModuleSampleRow | RackSampleRow]
) -> int:
    """Store samples; returns how many were new. Samples already stored are left untouched."""
    if not rows:
        return 0
    try:
        # Fast path: straight binary COPY. Overlaps are rare (replayed batches stop earlier).
        async with session.begin_nested():
            await _copy(session, table, table, rows)
        return len(rows)
    except pg_errors.UniqueViolation:
        return await _write_through_staging(session, table, rows)


async def _copy(
    session: AsyncSession, table: str, target: str, rows: Sequence[ModuleSampleRow | RackSampleRow]
) -> None:
    """COPY rows of `table`'s shape into `target` (the table itself or its staging twin)."""
    if table == "module_sample":
        module_rows = [r for r in rows if isinstance(r, ModuleSampleRow)]
        assert len(module_rows) == len(rows), "module_sample takes module rows only"
        await copy_module_rows(session, target, module_rows)
    else:
        await copy_rows(session, target, RACK_SAMPLE_COLUMNS, RACK_SAMPLE_PG_TYPES, rows)


async def _write_through_staging(
    session: AsyncSession, table: str, rows: Sequence[ModuleSampleRow | RackSampleRow]
) -> int:
    columns = MODULE_SAMPLE_COLUMNS if table == "module_sample" else RACK_SAMPLE_COLUMNS
    stage = f"{table}_stage"
    await session.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS"
        )
    )
    await session.execute(text(f"TRUNCATE {stage}"))
    await _copy(session, table, stage, rows)
    names = ", ".join(columns)
    conn = await driver_connection(session)
    cursor = await conn.execute(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING"  # noqa: S608 - fixed identifiers
    )
    return cursor.rowcount


async def upsert_module_latest(session: AsyncSession, rows: Sequence[ModuleSampleRow]) -> None:
    """Move each module's latest state forward (never backward, for late batches)."""
    await _upsert_latest(
        session,
        LatestSpec("module_latest", "module_sample", "module_id", MODULE_SAMPLE_COLUMNS),
        [(r.module_id, r.ts) for r in rows],
    )


async def upsert_rack_latest(session: AsyncSession, rows: Sequence[RackSampleRow]) -> None:
    """Move each string's latest state forward."""
    await _upsert_latest(
        session,
        LatestSpec("rack_latest", "rack_sample", "rack_id", RACK_SAMPLE_COLUMNS),
        [(r.rack_id, r.ts) for r in rows],
    )


@dataclass(frozen=True)
class LatestSpec:
    """A latest-state table, the hypertable it follows, its key and columns."""

    table: str
    source: str
    key: str
    columns: tuple[str, ...]


async def _upsert_latest(
    session: AsyncSession, spec: LatestSpec, keys: list[tuple[int, datetime]]
) -> None:
    # The rows were just stored in the hypertable: copy the newest per asset from there by key,
    # one set-based statement instead of sending every value a second time.
    if not keys:
        return
    names = ", ".join(spec.columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in spec.columns if c != spec.key)
    statement = (
        f"INSERT INTO {spec.table} ({names}) SELECT DISTINCT ON ({spec.key}) {names} "  # noqa: S608 - fixed identifiers
        f"FROM {spec.source} WHERE ({spec.key}, ts) IN (SELECT * FROM unnest("
        "CAST(:ids AS int[]), CAST(:stamps AS timestamptz[]))) AND ts >= :first AND ts <= :last "
        f"ORDER BY {spec.key}, ts DESC ON CONFLICT ({spec.key}) DO UPDATE SET {updates} "
        f"WHERE {spec.table}.ts < excluded.ts"
    )
    stamps = [ts for _, ts in keys]
    await session.execute(
        text(statement),
        {"ids": [i for i, _ in keys], "stamps": stamps, "first": min(stamps), "last": max(stamps)},
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


async def notify_site(session: AsyncSession, *, site_id: int, payload: str) -> None:
    """Wake live screens of this site (delivered at commit, to every app process)."""
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": f"site_{site_id}", "payload": payload},
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
