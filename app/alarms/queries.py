"""Alarm lists for the screens, with each alarm's effective ISA-18.2 state and its source."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms.catalogue import FaultCode, catalogue, describe
from app.core.scope import SiteIds

# Module alarms under a string that is deliberately isolated are suppressed by design.
# A module alarm of alarm `a` under a string that is deliberately isolated (suppressed by design).
UNDER_ISOLATED_STRING = """a.module_id IS NOT NULL AND EXISTS (
      SELECT 1 FROM isolation i WHERE i.rack_id = a.rack_id AND i.module_id IS NULL
        AND i.returned_at IS NULL)"""
EFFECTIVE_STATE = f"""CASE WHEN a.state IN ('unacked', 'acked', 'rtn_unacked')
      AND {UNDER_ISOLATED_STRING} THEN 'suppressed' ELSE a.state END"""

STANDING = ("unacked", "acked", "rtn_unacked")
OPEN = (*STANDING, "shelved", "suppressed")
EVERY_STATE = (*OPEN, "normal")
STATE_LABELS = {
    "unacked": "Unacknowledged",
    "acked": "Acknowledged",
    "rtn_unacked": "Cleared, unacknowledged",
    "shelved": "Shelved",
    "suppressed": "Suppressed (string isolated)",
    "normal": "Cleared",
}

LIST = text(f"""
SELECT * FROM (
  SELECT a.id, s.code, s.name, r.index, m.position, a.module_id, a.cell_index, a.code,
         a.priority, {EFFECTIVE_STATE} AS effective_state, a.message, a.value, a.threshold,
         a.raised_at, a.last_raised_at, a.occurrences, a.acked_at, a.acked_by, a.ack_note,
         a.cleared_at, a.shelved_until, a.shelved_by, a.shelve_reason
  FROM alarm a JOIN site s ON s.id = a.site_id
  LEFT JOIN rack r ON r.id = a.rack_id LEFT JOIN module m ON m.id = a.module_id
  WHERE (CAST(:sites AS int[]) IS NULL OR a.site_id = ANY(:sites))
    AND (CAST(:module_id AS int) IS NULL OR a.module_id = :module_id)
    AND (CAST(:rack_id AS int) IS NULL OR a.rack_id = :rack_id)
    AND (CAST(:priority AS int) IS NULL OR a.priority = :priority)
    AND (:include_history OR a.state <> 'normal')
    AND (CAST(:since AS timestamptz) IS NULL OR a.last_raised_at >= :since)
    AND (CAST(:active AS boolean) IS NULL OR (a.cleared_at IS NULL) = :active)
    AND (CAST(:before_id AS bigint) IS NULL OR a.id < :before_id)
    AND (CAST(:alarm_id AS bigint) IS NULL OR a.id = :alarm_id)
    AND (CAST(:pattern AS text) IS NULL OR a.code = ANY(:codes) OR a.message ILIKE :pattern
         OR a.code ILIKE :pattern)
) alarms
WHERE effective_state = ANY(:states)
ORDER BY CASE WHEN :by_id THEN id END DESC,
         CASE WHEN :recent_first THEN 0 ELSE (effective_state <> 'unacked')::int END,
         CASE WHEN :recent_first THEN 0 ELSE priority END, last_raised_at DESC
LIMIT :limit
""")  # noqa: S608 - constant SQL


@dataclass(frozen=True, slots=True)
class AlarmView:
    """One alarm as the screens show it."""

    id: int
    site_code: str
    site_name: str
    string: int | None
    module: int | None
    module_id: int | None
    cell_index: int | None
    code: str
    priority: int
    state: str
    message: str
    value: float | None
    threshold: float | None
    raised_at: datetime
    last_raised_at: datetime
    occurrences: int
    acked_at: datetime | None
    acked_by: str | None
    ack_note: str | None
    cleared_at: datetime | None
    shelved_until: datetime | None
    shelved_by: str | None
    shelve_reason: str | None

    @property
    def fault(self) -> FaultCode:
        """The catalogue entry: title, meaning, actions, unit."""
        return describe(self.code)

    @property
    def source(self) -> str:
        """Where it comes from: string, module and cell, as technicians name them."""
        parts = []
        if self.string is not None:
            parts.append(f"String {self.string}")
        if self.module is not None:
            parts.append(f"module {self.module}")
        if self.cell_index is not None:
            parts.append(f"cell {self.cell_index + 1}")
        return ", ".join(parts) or "Site"

    @property
    def active(self) -> bool:
        """Whether the condition is still there (shelving or acknowledging does not end it)."""
        return self.cleared_at is None

    @property
    def state_text(self) -> str:
        """The state in words with the time that belongs to it: a clear's, a shelf's end."""
        cleared = None if self.cleared_at is None else f"cleared at {self._clock(self.cleared_at)}"
        if self.state == "shelved" and self.shelved_until is not None:
            return f"Shelved until {self._clock(self.shelved_until)}, {cleared or 'still active'}"
        if self.state in ("rtn_unacked", "normal") and cleared:
            unacked = ", unacknowledged" if self.state == "rtn_unacked" else ""
            return f"{cleared.capitalize()}{unacked}"
        label = STATE_LABELS.get(self.state, self.state)
        return f"{label}, {cleared}" if cleared and self.state == "suppressed" else label

    def _clock(self, ts: datetime) -> str:
        """A time of this alarm in UTC, with the date when it is not the day it was raised."""
        ts, raised = ts.astimezone(UTC), self.raised_at.astimezone(UTC)
        return f"{ts:%H:%M:%S}" if ts.date() == raised.date() else f"{ts:%Y-%m-%d %H:%M:%S}"


@dataclass(frozen=True)
class AlarmFilter:
    """Which alarms to list."""

    sites: SiteIds = None  # None: every site
    alarm_id: int | None = None
    rack_id: int | None = None
    module_id: int | None = None
    priority: int | None = None
    states: tuple[str, ...] = STANDING
    active: bool | None = None  # True: the condition is still there; False: it has cleared
    since: datetime | None = None
    search: str = ""  # words in the code, its catalogue title or meaning, or the message
    recent_first: bool = False  # else: unacknowledged first, then by priority
    by_id: bool = False  # newest first by id, a stable order for paging with before_id
    before_id: int | None = None
    limit: int = 200


def escape_like(text: str) -> str:
    """Text matched literally inside an ILIKE pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matching_codes(search: str) -> list[str]:
    """Catalogue codes whose title or meaning mentions the search text."""
    needle = search.lower()
    return [
        entry.code
        for entry in catalogue().values()
        if needle in entry.title.lower() or needle in entry.meaning.lower()
    ]


async def list_alarms(session: AsyncSession, where: AlarmFilter) -> list[AlarmView]:
    """Alarms matching a filter: unacknowledged first, then by priority and recency."""
    params = {
        "sites": None if where.sites is None else list(where.sites),
        "rack_id": where.rack_id,
        "module_id": where.module_id,
        "priority": where.priority,
        "states": list(where.states),
        "since": where.since,
        "active": where.active,
        "pattern": f"%{escape_like(where.search)}%" if where.search else None,
        "codes": matching_codes(where.search) if where.search else [],
        "recent_first": where.recent_first,
        "by_id": where.by_id,
        "alarm_id": where.alarm_id,
        "before_id": where.before_id,
        "include_history": "normal" in where.states,
        "limit": where.limit,
    }
    return [AlarmView(*row) for row in await session.execute(LIST, params)]
