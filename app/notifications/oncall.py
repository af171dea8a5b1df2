"""Who is on call: weekly shifts in local wall-clock time, resolved for an instant.

A shift is a weekday with a local start and end; an end at or before the start runs past
midnight into the next day (Sunday's night shift ends on Monday). The wall clock decides: the
instant is turned into the roster's local time (zoneinfo applies DST), and whoever's shift
covers that weekday and time is on call. So a night shift over a DST change is an hour shorter
or longer in real time, and in the repeated hour of autumn the same shift covers both passes.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Shift:
    """One person on call each week from `starts` on `weekday` (0 Monday) until `ends`."""

    user_id: int
    weekday: int
    starts: time
    ends: time

    @property
    def crosses_midnight(self) -> bool:
        """Whether the shift ends on the next day."""
        return self.ends <= self.starts

    def covers(self, weekday: int, clock: time) -> bool:
        """Whether the shift covers this local weekday and wall-clock time."""
        if not self.crosses_midnight:
            return weekday == self.weekday and self.starts <= clock < self.ends
        if weekday == self.weekday:
            return clock >= self.starts
        return weekday == (self.weekday + 1) % 7 and clock < self.ends


@dataclass(frozen=True, slots=True)
class Roster:
    """A weekly schedule in one IANA time zone."""

    id: int
    name: str
    time_zone: str
    shifts: tuple[Shift, ...]

    def zone_info(self) -> ZoneInfo:
        """The roster's time zone (validated when the roster was saved)."""
        return ZoneInfo(self.time_zone)

    def on_call(self, at: datetime) -> set[int]:
        """The users on call at the (aware) instant `at`."""
        local = at.astimezone(self.zone_info())
        clock = local.time().replace(tzinfo=None)
        return {s.user_id for s in self.shifts if s.covers(local.weekday(), clock)}


def on_call_now(rosters: Iterable[Roster], roster_ids: Iterable[int], at: datetime) -> set[int]:
    """Everyone on call at `at` in the rosters named by id (unknown ids name nobody)."""
    wanted = set(roster_ids)
    found: set[int] = set()
    for roster in rosters:
        if roster.id in wanted:
            found |= roster.on_call(at.astimezone(UTC))
    return found
