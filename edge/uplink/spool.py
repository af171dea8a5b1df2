"""SQLite store-and-forward spool: nothing leaves it before the backend confirms it.

WAL mode with synchronous=FULL: a committed batch survives the process being killed. Each batch
gets the next sequence number in the same transaction that stores it, so (edge_id, seq) is
unique even across restarts. The spool is bounded: past its byte limit the oldest batches are
dropped, and the drop is counted, logged and reported to the backend.

A batch the backend refuses as a whole goes to the dead-letter table, which is bounded too
(the oldest dropped and counted); `resend_dead` puts dead letters back in the queue once the
cause is fixed (`python -m edge spool resend`). A spool file SQLite cannot read is moved aside
at start-up and a fresh one begun (quarantine.py).
"""

import gzip
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.uplink.quarantine import (
    SpoolCorruptError,
    check,
    check_header,
    is_corruption,
    quarantine,
    quarantined,
)

log = logging.getLogger("edge.uplink.spool")
LIVE_WINDOW_S = 5.0  # a batch younger than this is live data and jumps the backlog
DEAD_LETTERS_MAX = 1000
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS batch (seq INTEGER PRIMARY KEY, "
    "created_at REAL NOT NULL, bytes INTEGER NOT NULL, body BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dead (seq INTEGER PRIMARY KEY, "
    "reason TEXT NOT NULL, body BLOB NOT NULL)",
)


def connect(path: Path) -> sqlite3.Connection:
    """An open, checked spool database; SpoolCorruptError if SQLite cannot read the file."""
    check_header(path)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            db.execute(statement)
        check(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        if is_corruption(exc):
            raise SpoolCorruptError(str(exc)) from exc
        raise
    except SpoolCorruptError:
        db.close()
        raise
    return db


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    """A stored batch ready to send: its number and gzip-compressed JSON body."""

    seq: int
    created_at: float
    body: bytes


class Spool:
    """The persistent queue of batches waiting for the backend's confirmation."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        dead_max: int = DEAD_LETTERS_MAX,
        repair: bool = True,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.dead_max = dead_max
        # One connection shared by the collector and uplink threads, serialised by a lock.
        self.lock = threading.RLock()
        self.db = self._open(path, repair=repair)
        self.quarantined = len(quarantined(path))  # files kept aside so far, for the counters
        self.edge_id = self._meta("edge_id") or self._init_edge_id()
        # Bytes spooled, kept in memory so an append does not re-sum the whole table.
        self.size = self._stored_bytes()
        self.resent_seen = self._meta("resent")

    @staticmethod
    def _open(path: Path, *, repair: bool) -> sqlite3.Connection:
        """The spool database; a corrupt file is moved aside first when `repair` is set."""
        try:
            return connect(path)
        except SpoolCorruptError:
            if not repair:
                raise
            quarantine(path, now=time.time())
            return connect(path)

    def _stored_bytes(self) -> int:
        return int(self.db.execute("SELECT coalesce(sum(bytes), 0) FROM batch").fetchone()[0])

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _init_edge_id(self) -> str:
        edge_id = str(uuid.uuid4())
        self.db.execute(
            "INSERT INTO meta VALUES ('edge_id', ?), ('next_seq', '1'), ('dropped', '0')",
            (edge_id,),
        )
        return edge_id

    def append(self, build: Callable[[int], dict[str, Any]], *, now: float | None = None) -> int:
        """Store the batch `build(seq)` under the next sequence number; returns that number.

        Room is made before the batch goes in, and `build` is called again if that dropped
        anything, so that the batch itself reports every drop so far (`dropped_so_far`).
        """
        created = time.time() if now is None else now
        with self._transaction():
            self._resync()
            seq = int(self._meta("next_seq") or 1)
            body = self._encode(build(seq))
            dropped, freed = self._make_room(len(body))
            if dropped:
                body = self._encode(build(seq))
            self.db.execute(
                "INSERT INTO batch VALUES (?, ?, ?, ?)", (seq, created, len(body), body)
            )
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (str(seq + 1),))
        self.size += len(body) - freed  # only once the transaction has committed
        return seq

    def _resync(self) -> None:
        """Re-sum the spooled bytes if another process (the resend command) added batches."""
        resent = self._meta("resent")
        if resent != self.resent_seen:
            self.size, self.resent_seen = self._stored_bytes(), resent

    @staticmethod
    def _encode(batch: dict[str, Any]) -> bytes:
        return gzip.compress(json.dumps(batch, separators=(",", ":")).encode(), 5)

    def _make_room(self, incoming: int) -> tuple[int, int]:
        """Drop the oldest batches until `incoming` more bytes fit: (batches, bytes) freed."""
        dropped = freed = 0
        while self.size - freed + incoming > self.max_bytes:
            row = self.db.execute(
                "DELETE FROM batch WHERE seq = (SELECT min(seq) FROM batch) RETURNING bytes"
            ).fetchone()
            if row is None:
                break  # one batch larger than the whole spool: kept, it is all there is
            freed += row[0]
            dropped += 1
        if dropped:
            total = self.dropped_so_far() + dropped
            self._set_meta("dropped", str(total))
            log.error(
                "spool full (%d bytes): dropped the %d oldest batches (%d in all)",
                self.max_bytes,
                dropped,
                total,
            )
        return dropped, freed

    def next_batch(self, *, now: float | None = None) -> SpooledBatch | None:
        """The batch to send next: the newest if it is live, otherwise the oldest backlog."""
        with self.lock:
            current = time.time() if now is None else now
            newest = self.db.execute(
                "SELECT seq, created_at FROM batch ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if newest is None:
                return None
            # Only the chosen batch's body is read: the newest if live, else the oldest.
            if current - newest[1] <= LIVE_WINDOW_S:
                seq = newest[0]
            else:
                seq = self.db.execute("SELECT min(seq) FROM batch").fetchone()[0]
            row = self.db.execute(
                "SELECT seq, created_at, body FROM batch WHERE seq = ?", (seq,)
            ).fetchone()
            return SpooledBatch(*row)

    def confirm(self, seq: int) -> None:
        """The backend has stored batch `seq`: delete it."""
        with self.lock:
            self._delete(seq)

    def bury(self, seq: int, reason: str) -> None:
        """Move a batch the backend refused as a whole into the dead-letter table (kept).

        The table keeps at most `dead_max` letters: past that the oldest go, counted.
        """
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO dead SELECT seq, ?, body FROM batch WHERE seq = ?",
                (reason, seq),
            )
            self._delete(seq)
            self._trim_dead()

    def _trim_dead(self) -> None:
        excess = self.dead_letters() - self.dead_max
        if excess <= 0:
            return
        self.db.execute(
            "DELETE FROM dead WHERE seq IN (SELECT seq FROM dead ORDER BY seq LIMIT ?)", (excess,)
        )
        total = self.dead_dropped() + excess
        self._set_meta("dead_dropped", str(total))
        log.error(
            "dead letters past %d: dropped the %d oldest (%d in all)", self.dead_max, excess, total
        )

    def dead_letters(self) -> int:
        """Batches the backend refused, kept in the dead-letter table."""
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM dead").fetchone()[0])

    def dead_dropped(self) -> int:
        """Dead letters dropped because the table was full, since the spool was created."""
        with self.lock:
            return int(self._meta("dead_dropped") or 0)

    def dead_list(self) -> list[tuple[int, str]]:
        """Each dead letter's sequence number and the backend's reason, oldest first."""
        with self.lock:
            rows = self.db.execute("SELECT seq, reason FROM dead ORDER BY seq").fetchall()
        return [(int(seq), str(reason)) for seq, reason in rows]

    def resend_dead(self, seqs: list[int] | None = None) -> list[int]:
        """Put dead letters (all, or those numbered) back in the queue; the numbers moved.

        They go back with their own numbers, as backlog: the backend stores each once.
        """
        with self._transaction():
            rows = self.db.execute("SELECT seq, body FROM dead ORDER BY seq").fetchall()
            moved = [(seq, body) for seq, body in rows if seqs is None or seq in seqs]
            for seq, body in moved:
                self.db.execute(
                    "INSERT OR IGNORE INTO batch VALUES (?, 0, ?, ?)", (seq, len(body), body)
                )
                self.db.execute("DELETE FROM dead WHERE seq = ?", (seq,))
            if moved:  # tells a running edge to re-sum its spooled bytes
                self._set_meta("resent", str(int(self._meta("resent") or 0) + 1))
            self.size, self.resent_seen = self._stored_bytes(), self._meta("resent")
        return [seq for seq, _ in moved]

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _delete(self, seq: int) -> None:
        row = self.db.execute("DELETE FROM batch WHERE seq = ? RETURNING bytes", (seq,)).fetchone()
        if row is not None:
            self.size -= row[0]

    def depth(self) -> int:
        """Batches waiting."""
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM batch").fetchone()[0])

    def dropped_so_far(self) -> int:
        """Batches dropped because the spool was full, since it was created."""
        with self.lock:
            return int(self._meta("dropped") or 0)

    def note(self, key: str) -> str | None:
        """A value kept with the spool (the backfill's record of the history it holds)."""
        with self.lock:
            return self._meta(f"note:{key}")

    def set_note(self, key: str, value: str) -> None:
        """Keep a value with the spool, durably."""
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"note:{key}", value))

    def discard_pending(self) -> int:
        """Delete every batch waiting to be sent (their data is about to be generated again)."""
        with self._transaction():
            count = int(self.db.execute("SELECT count(*) FROM batch").fetchone()[0])
            self.db.execute("DELETE FROM batch")
        self.size = 0
        return count

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
