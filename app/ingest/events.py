"""Edge events become alarm and isolation rows, keeping their onset and feedback times."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import describe
from app.alarms.repository import AlarmSource, clear_alarm, raise_alarm
from app.core.enums import STR_DIS_RSN, Actor, DisableReason
from app.ingest.asset_map import SiteAssets
from app.ingest.schemas import EventRow
from app.isolations.models import Isolation
from app.isolations.repository import commanded_isolation, fault_onset, open_isolation
from app.telemetry.schemas import RackSampleRow

COMMS_LOST = "module_comms_lost"


def _offending_value(code: str, event: EventRow) -> tuple[float | None, int | None]:
    """The measured value (and 0-based cell) behind a module fault, from the readings the
    fault rose with; none without them (a sample of another moment would name the wrong one)."""
    cells, temps = event.cell_v, event.temp_c
    if cells and code.startswith(("cell_ov", "cell_uv")):
        extreme = (max if code.startswith("cell_ov") else min)(cells)
        return extreme, cells.index(extreme)  # the first such cell, as the samples count
    if temps and code.startswith(("over_temp", "under_temp")):
        return (max if code.startswith("over") else min)(temps), None
    return None, None


class EventApplier:
    """Applies one batch's events for one site."""

    def __init__(
        self, session: AsyncSession, assets: SiteAssets, strings: list[RackSampleRow]
    ) -> None:
        self.session = session
        self.assets = assets
        self.rack_samples = {s.rack_id: s for s in strings}

    async def apply(self, events: list[EventRow]) -> None:
        """Apply events in time order."""
        for event in sorted(events, key=lambda e: e.ts):
            rack_id = self.assets.racks.get(event.string)
            module = self.assets.modules.get((event.string, event.module or 0))
            source = AlarmSource(self.assets.site_id, rack_id, module.module_id if module else None)
            if event.kind in ("fault_raised", "comms_lost"):
                await self._raise(event, source)
            elif event.kind == "fault_cleared" and event.code:
                await clear_alarm(self.session, source, code=event.code, ts=event.ts)
            elif event.kind == "comms_restored":
                await clear_alarm(self.session, source, code=COMMS_LOST, ts=event.ts)
            elif event.kind == "contactor_opened" and rack_id is not None:
                await self._isolated(event, rack_id)
            elif event.kind == "contactor_closed" and rack_id is not None:
                await self._returned(event, rack_id)
            elif event.kind == "module_bypassed" and rack_id is not None and module:
                await self._isolated(event, rack_id, module.module_id)
            elif event.kind == "module_returned" and rack_id is not None and module:
                await self._returned(event, rack_id, module.module_id)

    async def _raise(self, event: EventRow, source: AlarmSource) -> None:
        code = COMMS_LOST if event.kind == "comms_lost" else (event.code or "unknown_fault")
        entry = describe(code)
        value, cell = _offending_value(code, event)
        where = f"string {event.string}" + (f" module {event.module}" if event.module else "")
        if cell is not None:
            where += f" cell {cell + 1}"
        cell_source = AlarmSource(source.site_id, source.rack_id, source.module_id, cell)
        await raise_alarm(
            self.session,
            cell_source,
            code=code,
            priority=entry.priority,
            message=f"{entry.title} at {where}",
            ts=event.ts,
            value=value,
            threshold=entry.threshold,
        )

    async def _isolated(self, event: EventRow, rack_id: int, module_id: int | None = None) -> None:
        """A string's contactor opened, or (with `module_id`) a module was bypassed."""
        if await open_isolation(self.session, rack_id=rack_id, module_id=module_id) is not None:
            return
        site_id = self.assets.site_id
        onset, code = await fault_onset(
            self.session, site_id=site_id, rack_id=rack_id, module_id=module_id, ts=event.ts
        )
        sample = None if module_id else self.rack_samples.get(rack_id)
        reason = STR_DIS_RSN.get(sample.disable_reason or 0) if sample else None
        reason = reason or (DisableReason.FAULT if code else DisableReason.OTHER)
        isolation = Isolation(
            site_id=self.assets.site_id,
            rack_id=rack_id,
            module_id=module_id,
            reason=reason,
            isolated_by=Actor.BMS,
            fault_code=code,
            onset_at=onset,
            isolated_at=event.ts,
        )
        # A commanded isolation is the operator's (or the edge policy's), with its reason; a
        # non-fault one begins when it was asked for.
        command = await commanded_isolation(
            self.session, site_id=site_id, rack_id=rack_id, module_id=module_id, ts=event.ts
        )
        if command is not None:
            isolation.command_id = command.command_id
            isolation.reason = command.reason
            isolation.isolated_by = command.origin
            if command.reason != DisableReason.FAULT or code is None:
                isolation.onset_at = min(command.requested_at, event.ts)
        self.session.add(isolation)

    async def _returned(self, event: EventRow, rack_id: int, module_id: int | None = None) -> None:
        isolation = await open_isolation(self.session, rack_id=rack_id, module_id=module_id)
        if isolation is not None and event.ts >= isolation.onset_at:
            isolation.returned_at = event.ts
