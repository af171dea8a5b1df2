"""Isolations derived from contactor (or bypass) feedback, whatever order it arrived in.

An isolation runs from an opening to the next closing, by the feedback's own times: a
closing with nothing open is of an isolation already over, an opening while open is the same
isolation seen again, and a late opening before the known one moves its start earlier.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Feedback:
    """Contactors seen opening (or closing) at a time, with the BMS's reason as it opened."""

    ts: datetime
    opened: bool
    disable_reason: int | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    """Out of service from `isolated_at` until `returned_at` (None: still out)."""

    isolated_at: datetime
    returned_at: datetime | None

    def holds(self, ts: datetime) -> bool:
        """Whether `ts` falls within the isolation."""
        return self.isolated_at <= ts and (self.returned_at is None or ts < self.returned_at)


def intervals(feedback: Iterable[Feedback]) -> list[Interval]:
    """The isolations in a run of feedback that starts with the contactors closed."""
    found: list[Interval] = []
    opened: datetime | None = None
    # At the same instant a closing sorts first: the string is shown out of service.
    for item in sorted(feedback, key=lambda f: (f.ts, f.opened)):
        if item.opened and opened is None:
            opened = item.ts
        elif not item.opened and opened is not None:
            found.append(Interval(opened, item.ts))
            opened = None
    return found + ([Interval(opened, None)] if opened is not None else [])


@dataclass(frozen=True, slots=True)
class StoredIsolation:
    """An isolation row as stored."""

    id: int
    isolated_at: datetime
    returned_at: datetime | None


@dataclass(frozen=True)
class Reconciled:
    """What to write: rows whose times change, intervals without a row, rows seen twice."""

    changed: list[tuple[int, Interval]]
    new: list[Interval]
    duplicates: list[int]  # a second row for one isolation (an older arrival-order bug)


def reconcile(rows: Sequence[StoredIsolation], found: Sequence[Interval]) -> Reconciled:
    """Match stored rows to the intervals: a row is the interval that holds its start."""
    changed, new, duplicates = [], [], []
    for interval in found:
        matches = sorted(
            (r for r in rows if interval.holds(r.isolated_at)), key=lambda r: (r.isolated_at, r.id)
        )
        if not matches:
            new.append(interval)
            continue
        row, *extra = matches
        if (row.isolated_at, row.returned_at) != (interval.isolated_at, interval.returned_at):
            changed.append((row.id, interval))
        duplicates += [r.id for r in extra]
    return Reconciled(changed, new, duplicates)
