"""SQL for ingest: asset lookup, batch bookkeeping, refused rows (samples: sample_store.py)."""

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.ingest.asset_map import ModuleAsset, SiteAssets
from app.ingest.models import IngestRejection
from app.ingest.schemas import Rejection
from app.sites.models import Module, Rack


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


CLAIM = text(
    "INSERT INTO ingest_batch (edge_device_id, edge_id, seq, created_at, n_modules, n_strings, "
    "n_events, n_rejected, counters) VALUES (:device_id, :edge_id, :seq, :created_at, "
    ":n_modules, :n_strings, :n_events, :n_rejected, CAST(:counters AS jsonb)) "
    "ON CONFLICT DO NOTHING RETURNING seq"
)


async def claim_batch(
    session: AsyncSession, *, device_id: int, edge_id: UUID, seq: int, values: dict[str, Any]
) -> bool:
    """Record a batch as stored; False when it already was (a replay)."""
    # A fixed statement: built and compiled once, not per batch as a Core insert() would be.
    params = {
        **values,
        "device_id": device_id,
        "edge_id": edge_id,
        "seq": seq,
        "counters": orjson.dumps(values["counters"]).decode(),
    }
    return (await session.execute(CLAIM, params)).first() is not None


SEEN = text(
    "SELECT 1 FROM ingest_batch WHERE edge_device_id = :device_id AND edge_id = :edge_id "
    "AND seq = :seq"
)


async def batch_seen(session: AsyncSession, *, device_id: int, edge_id: UUID, seq: int) -> bool:
    """Whether a batch was stored before (checked before its announcements are applied)."""
    params = {"device_id": device_id, "edge_id": edge_id, "seq": seq}
    return (await session.execute(SEEN, params)).first() is not None


def storable_text(value: str) -> str:
    """Text PostgreSQL can store: a refused value may hold NUL, which text columns cannot."""
    return value.replace("\x00", "\\u0000")


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
                "field": storable_text(r.field),
                "value": None if r.value is None else storable_text(str(r.value)[:500]),
                "reason": storable_text(r.reason),
            }
            for r in rejections
        ],
    )


# The counters are kept from the newest batch by the edge's own batch time: backlog sent after
# live data carries older counts.
TOUCH = text("""
UPDATE edge_device SET last_seen_at = :seen_at, software_version = :version,
       counters = CASE WHEN counters_at IS NULL OR :created >= counters_at
                       THEN CAST(:counters AS jsonb) ELSE counters END,
       counters_at = CASE WHEN counters_at IS NULL OR :created >= counters_at
                          THEN :created ELSE counters_at END
WHERE id = :id
""")


async def touch_device(
    session: AsyncSession,
    *,
    device_id: int,
    seen_at: datetime,
    version: str,
    counters: dict[str, Any],
    created_at: datetime,
) -> None:
    """Record that a device was heard from, its software version and its newest counters."""
    params = {
        "id": device_id,
        "seen_at": seen_at,
        "version": version,
        "created": created_at,
        "counters": orjson.dumps(counters).decode(),
    }
    await session.execute(TOUCH, params)


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
