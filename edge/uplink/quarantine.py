"""A spool file that SQLite cannot read is moved aside (kept for inspection), never fatal.

A corrupt spool used to stop the edge at every start-up. Now its file, with its WAL and
shared-memory files, is renamed `<spool>.corrupt-<UTC time>` next to where it was, and the edge
starts a fresh spool and keeps collecting; the number of files kept aside travels in every
batch's counters (spool_quarantined), and the backend raises an alarm when it grows.

Only corruption moves a file: SQLite's "not a database" and "malformed" errors, or a failed
quick_check. A locked or unreachable file is an ordinary error.
"""

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("edge.uplink.spool")
MARK = ".corrupt-"
COMPANIONS = ("", "-wal", "-shm")  # the database, its write-ahead log, its shared memory
CORRUPT_ERRORS = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


MAGIC = b"SQLite format 3\x00"


class SpoolCorruptError(Exception):
    """The spool file is not a readable SQLite database."""


def check_header(path: Path) -> None:
    """SpoolCorruptError when a spool file exists but is not a SQLite file at all.

    Checked before SQLite opens it: SQLite would reset the companion files of a file it
    cannot read, and they are part of what is kept for inspection.
    """
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as file:
        header = file.read(len(MAGIC))
    if header != MAGIC:
        raise SpoolCorruptError(f"file is not a database (it starts with {header[:8]!r})")


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite's error says the file itself is damaged (not locked, not missing)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return any(name.startswith(code) for code in CORRUPT_ERRORS)


def check(db: sqlite3.Connection) -> None:
    """SpoolCorruptError unless SQLite's quick check finds the file sound."""
    try:
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise SpoolCorruptError(str(exc)) from exc
        raise
    if verdict != "ok":
        raise SpoolCorruptError(f"quick_check: {verdict}")


def quarantine(path: Path, *, now: float) -> Path:
    """Move a spool file and its companions aside under one timestamped name; that name."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}{MARK}{stamp}")
    number = 1
    while target.exists():  # two quarantines in one second keep both
        number += 1
        target = path.with_name(f"{path.name}{MARK}{stamp}-{number}")
    for suffix in COMPANIONS:
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(Path(f"{target}{suffix}"))
    log.error(
        "spool %s is corrupt: moved to %s for inspection; starting a fresh spool", path, target.name
    )
    return target


def quarantined(path: Path) -> list[Path]:
    """The spool files kept aside next to `path`, oldest first."""
    found = path.parent.glob(f"{path.name}{MARK}*")
    return sorted(p for p in found if not p.name.endswith(("-wal", "-shm")))
