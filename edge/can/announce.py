"""Which modules to announce to the backend: heard on the bus, not yet confirmed as announced.

The backend registers an announced module it does not know, so that module's samples are
stored. Batches may arrive in any order (live data jumps the backlog, a full spool drops the
oldest), so every batch announces the modules it holds until one batch that announced them
has been confirmed; after that a batch carries no announcements.
"""

import threading
from collections.abc import Iterable

Position = tuple[int, int]  # (string, module)
PENDING_BATCHES_KEPT = 10_000  # bounds the memory held for batches dropped unsent


class Announcements:
    """Shared by the collector (which sends) and the uplink (which confirms)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._confirmed: set[Position] = set()
        self._by_seq: dict[int, frozenset[Position]] = {}

    def due(self, heard: Iterable[Position]) -> list[Position]:
        """Of the modules in a batch, the ones it should announce, in order."""
        with self._lock:
            return sorted(set(heard) - self._confirmed)

    def sent(self, seq: int, modules: list[Position]) -> None:
        """Batch `seq` announced these modules."""
        if not modules:
            return
        with self._lock:
            self._by_seq[seq] = frozenset(modules)
            if len(self._by_seq) > PENDING_BATCHES_KEPT:
                del self._by_seq[next(iter(self._by_seq))]  # the oldest

    def confirmed(self, seq: int) -> None:
        """The backend stored batch `seq`: its announcements need not be repeated."""
        with self._lock:
            self._confirmed |= self._by_seq.pop(seq, frozenset())
