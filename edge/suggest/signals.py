"""What the suggester knows about a CAN database: plain, typed rows read from cantools."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cantools
from cantools.database.errors import Error as CantoolsError


class DatabaseError(ValueError):
    """A database file that cantools cannot read, strictly or not."""


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """One signal as the suggester sees it."""

    name: str
    unit: str
    length: int  # bits
    minimum: float | None
    maximum: float | None
    is_multiplexer: bool = False
    pages: tuple[int, ...] = ()  # multiplexer values it appears under (none: every frame)
    comment: str = ""


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """One message and its signals."""

    name: str
    frame_id: int
    extended: bool
    signals: tuple[SignalInfo, ...]
    comment: str = ""


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    """A whole database: its messages, its free-text comments, how it had to be loaded."""

    path: Path
    messages: tuple[MessageInfo, ...]
    comments: tuple[str, ...]  # the database's and the messages' comments
    strict: bool


def _signal(signal: Any) -> SignalInfo:
    return SignalInfo(
        signal.name,
        (signal.unit or "").strip(),
        signal.length,
        signal.minimum,
        signal.maximum,
        bool(signal.is_multiplexer),
        tuple(signal.multiplexer_ids or ()),
        _text(signal.comment),
    )


def _text(comment: Any) -> str:
    """A comment as text (ARXML comments are per-language dictionaries)."""
    if isinstance(comment, dict):
        return " ".join(str(v) for v in comment.values())
    return str(comment or "")


def _message(message: Any) -> MessageInfo:
    return MessageInfo(
        message.name,
        message.frame_id,
        bool(message.is_extended_frame),
        tuple(_signal(s) for s in message.signals),
        _text(message.comment),
    )


def read_database(path: Path) -> DatabaseInfo:
    """Load a DBC, KCD, SYM or ARXML file; non-strictly if it has broken messages."""
    strict = True
    try:
        database = _load(path, strict=True)
    except (CantoolsError, ValueError, KeyError, IndexError):
        strict = False
        database = _load(path, strict=False)
    messages = tuple(_message(m) for m in database.messages)
    comments = tuple(_text(b.comment) for b in database.buses if b.comment)
    comments += tuple(m.comment for m in messages if m.comment)
    return DatabaseInfo(path, messages, comments, strict)


def _load(path: Path, *, strict: bool) -> Any:
    try:
        database = cantools.database.load_file(path, strict=strict)
    except OSError as exc:
        raise DatabaseError(f"{path}: cannot read: {exc.strerror}") from exc
    except (CantoolsError, ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        if strict:
            raise
        raise DatabaseError(f"{path}: cantools cannot read it: {exc}") from exc
    if not isinstance(database, cantools.database.can.Database):
        raise DatabaseError(f"{path}: not a CAN database ({type(database).__name__})")
    return database
