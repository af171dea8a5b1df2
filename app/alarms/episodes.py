"""Alarm rows derived from one source's history, whatever order its events arrived in.

The edge sends live batches before its backlog, so a clear can arrive before the raise it
follows. Each alarm source (site, string, module, code) keeps its raises and clears
(alarm_event), and its rows are recomputed by replaying them in time order, together with what
operators did at the times they did it (ISA-18.2):

- a row stands from a raise until it is both cleared and acknowledged (return to normal); a
  raise after that starts a new row;
- a raise while the row stands is another occurrence (distinct raises, not deliveries); a
  clear ends the condition (returned to normal, unacknowledged), the next raise brings it back;
- an acknowledgement acknowledges the row standing at its time: it stays valid whatever
  arrives later, and a late event from before it is counted as the operator would have seen it;
- a shelved row does not return to normal until its shelf ends.

The outcome is a function of the set of events and the operators' actions, not of arrival
order. Replay starts at the last return to normal before the new events (history.py): nothing
stood then, and nothing before it changes.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from app.core.enums import AlarmState


@dataclass(frozen=True, slots=True)
class Mark:
    """One raise or clear of the condition, at the time the edge saw it."""

    ts: datetime
    raised: bool
    # What a raise said: the cell and value that crossed the limit, and the alarm's text.
    cell_index: int | None = None
    value: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """An operator's acknowledgement."""

    at: datetime
    by: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """An alarm row of the source as stored, with the operator's acknowledgement."""

    id: int
    state: str
    raised_at: datetime
    ack: Ack | None = None


@dataclass(frozen=True, slots=True)
class Episode:
    """What one row should say; row_id None is a new row."""

    row_id: int | None
    first: Mark  # the raise that opened it: its time, cell, value and text
    last_raised_at: datetime
    occurrences: int
    cleared_at: datetime | None
    ack: Ack | None
    state: str


@dataclass(slots=True)
class _Run:
    """A row while the history is replayed."""

    start: Mark
    last_raised_at: datetime
    occurrences: int = 1
    cleared_at: datetime | None = None
    ack: Ack | None = None
    shelved: bool = False
    closed: bool = False

    def mark(self, mark: Mark) -> None:
        if mark.raised:
            self.last_raised_at, self.cleared_at = mark.ts, None
            self.occurrences += 1
        elif self.cleared_at is None:  # the first clear after the last raise ends it
            self.cleared_at = mark.ts
        self._settle()

    def acknowledge(self, ack: Ack) -> None:
        if self.ack is None:
            self.ack = ack
            self._settle()

    def _settle(self) -> None:
        self.closed = self.ack is not None and self.cleared_at is not None and not self.shelved

    def episode(self) -> Episode:
        if self.shelved:
            state = AlarmState.SHELVED
        elif self.cleared_at is not None:
            state = AlarmState.NORMAL if self.ack else AlarmState.RTN_UNACKED
        else:
            state = AlarmState.ACKED if self.ack else AlarmState.UNACKED
        return Episode(
            None,
            self.start,
            self.last_raised_at,
            self.occurrences,
            self.cleared_at,
            self.ack,
            state.value,
        )


@dataclass
class _Replay:
    """Marks and acknowledgements in time order, building runs."""

    shelf_from: datetime | None  # the shelved row's raise: its run stays standing
    runs: list[_Run] = field(default_factory=list)

    @property
    def standing(self) -> _Run | None:
        run = self.runs[-1] if self.runs else None
        return run if run is not None and not run.closed else None

    def mark(self, mark: Mark) -> None:
        run = self.standing
        if run is not None:
            run.mark(mark)
        elif mark.raised:  # a clear with nothing standing belongs to a condition already over
            self.runs.append(_Run(mark, mark.ts))
            run = self.runs[-1]
        if run is not None and self.shelf_from is not None:
            run.shelved |= run.start.ts <= self.shelf_from <= mark.ts

    def acknowledge(self, ack: Ack) -> None:
        run = self.standing
        if run is not None:
            run.acknowledge(ack)


def _timeline(marks: Iterable[Mark], acks: Iterable[Ack]) -> list[Mark | Ack]:
    # At the same instant: a clear, then a raise (the raise wins: the alarm stays visible),
    # then an acknowledgement (which saw both).
    def key(item: Mark | Ack) -> tuple[datetime, int]:
        if isinstance(item, Ack):
            return item.at, 2
        return item.ts, int(item.raised)

    # A raise or clear seen twice is one (the history stores it once; occurrences count raises).
    distinct = {(m.ts, m.raised): m for m in marks}
    return sorted([*distinct.values(), *acks], key=key)


def replay(marks: Iterable[Mark], rows: Sequence[Stored]) -> list[Episode]:
    """The rows that the marks and the rows' acknowledgements give, in time order (new ones
    without an id); `rows` are the stored rows raised in the same stretch of time."""
    shelved = [r.raised_at for r in rows if r.state == AlarmState.SHELVED]
    state = _Replay(shelf_from=min(shelved, default=None))
    # An acknowledgement cannot come before its row's raise (an edge clock ahead of ours).
    acks = [replace(r.ack, at=max(r.ack.at, r.raised_at)) for r in rows if r.ack is not None]
    for item in _timeline(marks, acks):
        if isinstance(item, Ack):
            state.acknowledge(item)
        else:
            state.mark(item)
    return [run.episode() for run in state.runs]


@dataclass(frozen=True)
class Plan:
    """What to write: each episode with the row it updates (or none), and rows merged away."""

    episodes: list[Episode]
    merged: list[int]


def plan(rows: Sequence[Stored], marks: Sequence[Mark]) -> Plan:
    """Replay the marks with the rows' acknowledgements; each row keeps the episode its raise
    falls in (the first such row, when a late event has joined two into one)."""
    episodes = replay(marks, rows)
    if not episodes:
        return Plan([], [])  # nothing raised in this stretch: nothing to say about the rows
    starts = [e.first.ts for e in episodes]
    owners: dict[int, int] = {}
    merged = []
    for row in sorted(rows, key=lambda r: (r.raised_at, r.id)):
        index = max((i for i, ts in enumerate(starts) if ts <= row.raised_at), default=0)
        if index in owners:
            merged.append(row.id)
        else:
            owners[index] = row.id
    return Plan([replace(e, row_id=owners.get(i)) for i, e in enumerate(episodes)], merged)
