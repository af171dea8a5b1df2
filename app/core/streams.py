"""Long streamed answers that cannot take the server down: admitted by a gate, dropped when stalled.

A `StreamGate` admits at most so many streams per caller and in all (429 with Retry-After past
either). A `GuardedStream` holds its slot while it runs and gives it back however it ends:
finished, client gone, or client not taking data for the stall timeout (then the connection is
closed and the body's generator closed, which returns its database connection).
"""

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from app.core.errors import DATABASE_LOG, DATABASE_UNAVAILABLE, error_body, failure_kind

log = logging.getLogger(__name__)
RETRY_AFTER_S = 10  # what a refused caller is told to wait: a typical export's few seconds
# Set when this request's stream was dropped on purpose, so the server's generic "returned
# without completing response" error is not logged for it (our own warning says why).
DROPPED_ON_PURPOSE: ContextVar[bool] = ContextVar("dropped_on_purpose", default=False)


class StalledReaderError(Exception):
    """The client took no data for the stall timeout."""


@dataclass
class Slot:
    """One admitted stream; released once, however often release() is called."""

    gate: "StreamGate"
    key: str
    released: bool = False

    def release(self) -> None:
        """Give the slot back."""
        if not self.released:
            self.released = True
            self.gate.leave(self.key)


class StreamGate:
    """At most `per_caller` streams per caller key and `total` in all, in this process."""

    def __init__(self, *, what: str, per_caller: int, total: int, settings_prefix: str) -> None:
        self.what, self.per_caller, self.total = what, per_caller, total
        self.prefix = settings_prefix
        self.running: Counter[str] = Counter()

    def enter(self, key: str) -> Slot:
        """A slot for the caller, or 429 naming the limit that was reached."""
        mine = self.running[key]
        if mine >= self.per_caller:
            self._refuse(
                f"you already have {mine} {self.what}s running, the most one caller "
                f"may ({self.prefix}_MAX_PER_CALLER)"
            )
        if sum(self.running.values()) >= self.total:
            self._refuse(
                f"{self.total} {self.what}s are running, the most this server runs at "
                f"once ({self.prefix}_MAX_CONCURRENT)"
            )
        self.running[key] += 1
        return Slot(self, key)

    def leave(self, key: str) -> None:
        """A stream of this caller ended."""
        self.running[key] -= 1
        if self.running[key] <= 0:
            del self.running[key]

    def _refuse(self, message: str) -> None:
        body = error_body("too_many_requests", f"{message}; retry in {RETRY_AFTER_S} s")
        raise HTTPException(429, body, headers={"Retry-After": str(RETRY_AFTER_S)})


class GuardedStream(StreamingResponse):
    """A streamed body that holds a gate's slot and drops a client that stops reading."""

    def __init__(
        self, content: AsyncGenerator[bytes], *, slot: Slot, stall_timeout_s: float, **kw: Any
    ) -> None:
        super().__init__(content, **kw)
        self.source = content
        self.slot, self.stall_timeout_s = slot, stall_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, self._timed(send))
        except* StalledReaderError:
            DROPPED_ON_PURPOSE.set(True)
            log.warning(
                "dropped a client that took no data for %.0f s: %s %s",
                self.stall_timeout_s,
                scope.get("method"),
                scope.get("path"),
            )
        except* DATABASE_UNAVAILABLE as group:
            # The head has gone out: all that is left is to end the body early, and say why once.
            DROPPED_ON_PURPOSE.set(True)
            kind, first_line = failure_kind(group.exceptions[0])
            DATABASE_LOG.warning(
                kind,
                f"stream ended early, database unavailable ({kind}: "
                f"{first_line}): {scope.get('path')}",
            )
        finally:
            # Closing the generator ends its transaction and returns its connection to the pool.
            await self.source.aclose()
            self.slot.release()

    def _timed(self, send: Send) -> Send:
        async def timed_send(message: Message) -> None:
            try:
                await asyncio.wait_for(send(message), self.stall_timeout_s)
            except TimeoutError:
                raise StalledReaderError from None

        return timed_send


class DroppedStreamFilter(logging.Filter):
    """Leaves out the server's error for a response we ended early on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for 'returned without completing response' after a deliberate drop."""
        return not (DROPPED_ON_PURPOSE.get() and "without completing" in record.getMessage())
