"""The edge's journal of commands it has started: a command id is carried out at most once.

An id is written (synchronously) before its frame is sent. After a restart, a command the
backend hands again is never sent again: a finished one is reported as it ended, and one that
was interrupted is reported failed, for the operator to decide.
"""

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS command (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    outcome TEXT,
    detail TEXT NOT NULL DEFAULT '',
    reported INTEGER NOT NULL DEFAULT 0
);
-- Actions of the local policy: numbered here, reported to the backend when it can be reached.
CREATE TABLE IF NOT EXISTS policy_action (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    outcome TEXT,
    detail TEXT NOT NULL DEFAULT '',
    acked_at REAL,
    evidence TEXT NOT NULL DEFAULT '{}',
    reported INTEGER NOT NULL DEFAULT 0
);
"""
INTERRUPTED = "the edge restarted while carrying it out; it was not repeated"


@dataclass(frozen=True, slots=True)
class Entry:
    """A command the edge has started, and how it ended (outcome None: interrupted)."""

    id: int
    outcome: str | None
    detail: str
    reported: bool


@dataclass(frozen=True, slots=True)
class ActionEntry:
    """A finished policy action, as the backend is told of it."""

    number: int
    action: dict[str, Any]
    outcome: str
    detail: str
    acked_at: float | None
    evidence: dict[str, dict[str, float]]


class Journal:
    """A small SQLite table next to the spool, shared by the command threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def get(self, command_id: int) -> Entry | None:
        """The journal entry of a command, if it was ever started here."""
        with self.lock:
            row = self.db.execute(
                "SELECT id, outcome, detail, reported FROM command WHERE id = ?", (command_id,)
            ).fetchone()
        return None if row is None else Entry(row[0], row[1], row[2], bool(row[3]))

    def start(self, command_id: int, now: float) -> bool:
        """Record that a command is about to be carried out; False if it already was."""
        with self.lock:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO command (id, started_at) VALUES (?, ?)", (command_id, now)
            )
        return cursor.rowcount == 1

    def finish(self, command_id: int, outcome: str, detail: str) -> None:
        """Record how a started command ended."""
        with self.lock:
            self.db.execute(
                "UPDATE command SET outcome = ?, detail = ? WHERE id = ?",
                (outcome, detail, command_id),
            )

    def reported(self, command_id: int) -> None:
        """The backend has the outcome."""
        with self.lock:
            self.db.execute("UPDATE command SET reported = 1 WHERE id = ?", (command_id,))

    def unreported(self) -> list[Entry]:
        """Finished commands whose outcome the backend does not have yet."""
        with self.lock:
            rows = self.db.execute(
                "SELECT id, outcome, detail, reported FROM command "
                "WHERE outcome IS NOT NULL AND reported = 0 ORDER BY id"
            ).fetchall()
        return [Entry(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def start_action(self, action: dict[str, Any]) -> int:
        """Record a policy action before its frame is sent; returns its local number."""
        with self.lock:
            cursor = self.db.execute(
                "INSERT INTO policy_action (action) VALUES (?)", (json.dumps(action),)
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_action(
        self,
        number: int,
        *,
        outcome: str,
        detail: str,
        acked_at: float | None = None,
        evidence: dict[str, dict[str, float]] | None = None,
    ) -> None:
        """Record how a policy action ended."""
        with self.lock:
            self.db.execute(
                "UPDATE policy_action SET outcome = ?, detail = ?, acked_at = ?, evidence = ? "
                "WHERE id = ?",
                (outcome, detail, acked_at, json.dumps(evidence or {}), number),
            )

    def fail_interrupted_actions(self) -> int:
        """At start-up: actions a previous run began but never finished count as failed."""
        with self.lock:
            cursor = self.db.execute(
                "UPDATE policy_action SET outcome = 'failed', detail = ? WHERE outcome IS NULL",
                (INTERRUPTED,),
            )
        return cursor.rowcount

    def unreported_actions(self) -> list[ActionEntry]:
        """Finished policy actions the backend has not recorded yet, oldest first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT id, action, outcome, detail, acked_at, evidence FROM policy_action "
                "WHERE outcome IS NOT NULL AND reported = 0 ORDER BY id"
            ).fetchall()
        return [
            ActionEntry(r[0], json.loads(r[1]), r[2], r[3], r[4], json.loads(r[5])) for r in rows
        ]

    def action_reported(self, number: int) -> None:
        """The backend has recorded the action."""
        with self.lock:
            self.db.execute("UPDATE policy_action SET reported = 1 WHERE id = ?", (number,))

    def close(self) -> None:
        """Close the database."""
        self.db.close()
