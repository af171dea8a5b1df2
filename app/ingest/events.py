"""Edge events become alarm and isolation history; the rows are derived from it by event time.

Batches may arrive in any order (the edge sends live data before its backlog) and more than
once, so events are not applied to the current state one by one: each is recorded once in its
source's history, and the alarm and isolation rows it affects are recomputed from that history
(app/alarms/episodes.py, app/isolations/intervals.py).
"""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import history as alarm_history
from app.alarms.catalogue import describe
from app.alarms.episodes import Mark
from app.alarms.history import Source
from app.ingest.asset_map import SiteAssets
from app.ingest.schemas import EventRow
from app.isolations import history as isolation_history
from app.isolations.history import Target
from app.isolations.intervals import Feedback

COMMS_LOST = "module_comms_lost"
RAISES = {"fault_raised": True, "comms_lost": True, "fault_cleared": False, "comms_restored": False}
OPENINGS = {
    "contactor_opened": True,
    "contactor_closed": False,
    "module_bypassed": True,
    "module_returned": False,
}


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


def _code(event: EventRow) -> str | None:
    if event.kind in ("comms_lost", "comms_restored"):
        return COMMS_LOST
    if event.kind == "fault_raised":
        return event.code or "unknown_fault"
    return event.code  # a clear without a code clears nothing


def _alarm_mark(event: EventRow, code: str) -> Mark:
    """A raise (with the cell, value and text that go with it) or a clear."""
    if not RAISES[event.kind]:
        return Mark(event.ts, raised=False)
    value, cell = _offending_value(code, event)
    where = f"string {event.string}" + (f" module {event.module}" if event.module else "")
    if cell is not None:
        where += f" cell {cell + 1}"
    return Mark(event.ts, True, cell, value, f"{describe(code).title} at {where}")


class EventApplier:
    """Applies one batch's events for one site."""

    def __init__(self, session: AsyncSession, assets: SiteAssets) -> None:
        self.session = session
        self.assets = assets

    async def apply(self, events: list[EventRow]) -> None:
        """Record the events, then recompute what they affect."""
        marks = [mark for event in events if (mark := self._mark(event)) is not None]
        feedback = [item for event in events if (item := self._feedback(event)) is not None]
        await self._derive(marks, feedback)

    def _mark(self, event: EventRow) -> tuple[Source, Mark] | None:
        """An alarm raise or clear, with its source."""
        code = _code(event)
        if event.kind not in RAISES or code is None:
            return None
        module = self.assets.modules.get((event.string, event.module or 0))
        source = Source(
            self.assets.site_id,
            self.assets.racks.get(event.string),
            module.module_id if module else None,
            code,
        )
        return source, _alarm_mark(event, code)

    def _feedback(self, event: EventRow) -> tuple[Target, Feedback] | None:
        """A string's contactors (or a module's bypass) opening or closing, with its target."""
        rack_id = self.assets.racks.get(event.string)
        if event.kind not in OPENINGS or rack_id is None:
            return None
        module_id = None
        if event.kind.startswith("module"):
            module = self.assets.modules.get((event.string, event.module or 0))
            if module is None:
                return None  # a module the registry lacks: nothing to isolate
            module_id = module.module_id
        item = Feedback(event.ts, OPENINGS[event.kind], event.disable_reason)
        return Target(self.assets.site_id, rack_id, module_id), item

    async def _derive(
        self, marks: list[tuple[Source, Mark]], feedback: list[tuple[Target, Feedback]]
    ) -> None:
        new_marks = await alarm_history.record(self.session, marks)
        new_feedback = await isolation_history.record(self.session, feedback)
        # Sorted, so that two batches lock the same sources in the same order.
        for source in sorted(new_marks, key=_order):
            await alarm_history.rederive(self.session, source, new_marks[source])
        for target in sorted(new_feedback, key=_order):
            await isolation_history.rederive(self.session, target, new_feedback[target])
        times: list[datetime] = [
            ts for found in (new_marks, new_feedback) for stamps in found.values() for ts in stamps
        ]
        racks = {s.rack_id for s in new_marks if s.rack_id} | {t.rack_id for t in new_feedback}
        if racks:
            since, until = isolation_history.attribution_window(times)
            await isolation_history.attribute(
                self.session, self.assets.site_id, sorted(racks), since, until
            )


def _order(key: Source | Target) -> tuple[int, int, int, str]:
    code = key.code if isinstance(key, Source) else ""
    return key.site_id, key.rack_id or 0, key.module_id or 0, code
