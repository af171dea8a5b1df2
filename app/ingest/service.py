"""Ingest of one batch: validate, de-duplicate, write, turn events into alarms and isolations."""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, open_alarm_value, raise_alarm
from app.auth.devices import DeviceIdentity
from app.commands.service import verify as verify_commands
from app.ingest import repository, sample_store
from app.ingest.announce import Announced, apply_announcements
from app.ingest.asset_map import SiteAssets
from app.ingest.assets import site_assets
from app.ingest.events import EventApplier
from app.ingest.parsing import ParsedBatch
from app.ingest.schemas import IngestResponse, SectionResult
from app.ingest.validation import TimeBounds, Validated, validate_batch
from app.live.hub import notify
from app.telemetry.rollups import MODULES, RACKS, mark_dirty

SPOOL_OVERFLOW = "edge_spool_overflow"
SPOOL_QUARANTINED = "edge_spool_quarantined"


# Counters the edge keeps as totals, and the alarm each raises (or bumps) when it grows.
COUNTER_ALARMS = {
    SPOOL_OVERFLOW: ("spool_dropped", "batches in all"),
    SPOOL_QUARANTINED: ("spool_quarantined", "spool files kept aside"),
}


async def _report_spool_troubles(
    session: AsyncSession,
    device: DeviceIdentity,
    response: IngestResponse,
    *,
    counters: dict[str, Any],
) -> None:
    """Raise (or bump) an alarm when the edge says its spool dropped batches or was corrupt."""
    for code, (counter, unit) in COUNTER_ALARMS.items():
        total = counters.get(counter)
        if not isinstance(total, int) or total <= 0:
            continue
        source = AlarmSource(device.site_id)
        known = await open_alarm_value(session, source, code=code)
        if known is not None and known >= total:
            continue
        entry = describe(code)
        await raise_alarm(
            session,
            source,
            code=code,
            priority=entry.priority,
            message=f"{entry.title} ({total} {unit})",
            ts=response.received_at,
            value=float(total),
        )


async def _announce(
    session: AsyncSession, device: DeviceIdentity, assets: SiteAssets, batch: ParsedBatch
) -> Announced:
    """Apply the batch's announced modules, once: a batch sent again changes nothing."""
    if not batch.assets:
        return Announced()
    envelope = batch.envelope
    if await repository.batch_seen(
        session, device_id=device.device_id, edge_id=UUID(envelope.edge_id), seq=envelope.seq
    ):
        return Announced()
    if any((row.string, row.module) not in assets.modules for _, row in batch.assets):
        # As for samples: the cached map may predate a module another process registered.
        assets = await site_assets(session, device.site_id, fresh=True)
    announced = await apply_announcements(session, assets, batch.assets)
    # Refused announcements are reported and kept with the batch's other refused rows.
    batch.rejections.extend(announced.rejections)
    return announced


def _sections(batch: ParsedBatch, validated: Validated) -> dict[str, SectionResult]:
    rejected: dict[str, set[int]] = {section: set() for section in batch.received}
    for rejection in validated.rejections:
        rejected[rejection.section].add(rejection.row)
    return {
        section: SectionResult(received=count, rejected=len(rejected[section]))
        for section, count in batch.received.items()
    }


async def ingest_batch(
    session: AsyncSession,
    *,
    device: DeviceIdentity,
    batch: ParsedBatch,
    now: datetime,
    max_future: timedelta,
    max_past: timedelta,
) -> IngestResponse:
    """Store a batch exactly once; refused rows are recorded and reported, good rows kept."""
    assets = await site_assets(session, device.site_id)
    announced = await _announce(session, device, assets, batch)
    if announced.changed_registry:
        assets = await site_assets(session, device.site_id, fresh=True)
    bounds = TimeBounds(earliest=now - max_past, latest=now + max_future)
    validated = validate_batch(batch, assets, bounds)
    if validated.names_unknown_asset:
        # A new module or string may have been registered since the map was cached.
        assets = await site_assets(session, device.site_id, fresh=True)
        validated = validate_batch(batch, assets, bounds)
    sections = _sections(batch, validated)
    sections["assets"].stored = announced.registered + announced.updated
    sections["assets"].already_stored = announced.unchanged
    envelope = batch.envelope
    fresh = await repository.claim_batch(
        session,
        device_id=device.device_id,
        edge_id=UUID(envelope.edge_id),
        seq=envelope.seq,
        values={
            "created_at": envelope.created_at,
            "n_modules": len(validated.modules),
            "n_strings": len(validated.strings),
            "n_events": len(validated.events),
            "n_rejected": len(validated.rejections),
            "counters": envelope.counters,
        },
    )
    response = IngestResponse(
        edge_id=envelope.edge_id,
        seq=envelope.seq,
        duplicate_batch=not fresh,
        rejections=validated.rejections,
        received_at=now,
        **sections,
    )
    if fresh:
        await _store(session, device, assets, validated, response)
        await _report_spool_troubles(session, device, response, counters=envelope.counters)
    else:
        response.modules.already_stored = len(validated.modules)
        response.strings.already_stored = len(validated.strings)
        response.systems.already_stored = len(validated.systems)
        response.assets.already_stored = len(batch.assets)
    # Last: this row lock is held to commit, and the same device's next batch waits for it.
    await repository.touch_device(
        session,
        device_id=device.device_id,
        seen_at=now,
        version=envelope.software_version,
        counters=envelope.counters,
        created_at=envelope.created_at,
    )
    return response


async def _store(
    session: AsyncSession,
    device: DeviceIdentity,
    assets: SiteAssets,
    validated: Validated,
    response: IngestResponse,
) -> None:
    modules = sample_store.module_stream(validated.modules)
    strings = sample_store.rack_stream(validated.strings)
    systems = sample_store.system_stream(validated.systems)
    new_modules, new_strings, new_systems = await sample_store.write_samples(
        session, modules, strings, systems
    )
    response.modules.stored, response.strings.stored = new_modules, new_strings
    response.systems.stored = new_systems
    response.modules.already_stored = len(validated.modules) - new_modules
    response.strings.already_stored = len(validated.strings) - new_strings
    response.systems.already_stored = len(validated.systems) - new_systems
    await repository.insert_rejections(
        session,
        site_id=device.site_id,
        device_id=device.device_id,
        edge_id=UUID(response.edge_id),
        seq=response.seq,
        rejections=validated.rejections,
    )
    # From here on, rows other batches also write (latest state, rollup queue, alarms): kept
    # to the end so that locks held until commit are held briefly.
    await sample_store.upsert_latest(session, modules, strings, systems)
    await mark_dirty(
        session,
        {MODULES: validated.modules.stamps(), RACKS: (row.ts for row in validated.strings)},
    )
    # Commands waiting for their effect are verified against the state just stored.
    await verify_commands(session, device.site_id, response.received_at)
    await EventApplier(session, assets).apply(validated.events)
    response.events.stored = len(validated.events)
    # Open pages of this site refresh (at commit, in every app process).
    await notify(session, site_id=device.site_id, kind="telemetry")
    if validated.events:
        await notify(session, site_id=device.site_id, kind="alarms")
