"""One LISTEN connection per app process, fanned out to the page streams of that process.

Writers NOTIFY on one channel with a small JSON payload naming the site; every app process
hears every notification, so a page sees changes made through any process. A subscriber keeps
only a flag per site (not a queue of messages): a burst of batches becomes one refresh.

Each process also remembers the changes of the last few minutes, stamped with the wall-clock
time it heard them. A stream that (re)connects says from when it needs changes (the moment its
page was requested, or the SSE Last-Event-ID), and gets those replayed: a change committed while
the page was rendering, or while the stream was reconnecting, is not lost.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import SiteIds

CHANNEL = "ridethrough_live"
RECONNECT_S = 2.0
KINDS = ("telemetry", "alarms", "commands")
RECENT_CHANGES = 20_000  # about ten minutes of a busy fleet
# Another process's clock, and the gap between a commit and hearing its notification, may put
# a change's stamp a little before the page's: replay that much earlier than asked.
REPLAY_SLACK_MS = 2_000
NOT_LISTENING = 2**62


def now_ms() -> int:
    """Wall-clock milliseconds: comparable between the app processes of one deployment."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Change:
    """Something of `kind` changed at a site; heard at `at_ms`."""

    at_ms: int
    site_id: int
    kind: str


log = logging.getLogger("app.live")


async def notify(session: AsyncSession, *, site_id: int, kind: str) -> None:
    """Tell open pages that something of `kind` changed at a site (delivered at commit)."""
    payload = json.dumps({"site_id": site_id, "kind": kind})
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
    )


class Subscription:
    """What changed for one open page since it last looked."""

    def __init__(self, sites: SiteIds, owner: str = "") -> None:
        self.sites = None if sites is None else frozenset(sites)  # None: every site
        self.owner = owner  # who opened it: streams are capped per user
        self.kinds: set[str] = set()
        self.changed = asyncio.Event()
        self.closed = False  # the process is shutting down: waiters should answer and go
        self.last_ms = 0  # the newest change offered: the stream's event id

    def close(self) -> None:
        """Wake the waiter for good."""
        self.closed = True
        self.changed.set()

    def offer(self, change: Change) -> None:
        """Record a change if this page shows that site."""
        if self.sites is None or change.site_id in self.sites:
            self.kinds.add(change.kind)
            self.last_ms = max(self.last_ms, change.at_ms)
            self.changed.set()

    def offer_everything(self, at_ms: int) -> None:
        """Record that anything may have changed (the missed span is longer than remembered)."""
        self.kinds.update(KINDS)
        self.last_ms = max(self.last_ms, at_ms)
        self.changed.set()

    def take(self) -> set[str]:
        """The kinds of change seen since the last take, and reset."""
        kinds, self.kinds = self.kinds, set()
        self.changed.clear()
        return kinds


class LiveHub:
    """Listens for change notifications and hands them to the subscriptions of this process."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.subscriptions: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.draining = False
        self.recent: deque[Change] = deque(maxlen=RECENT_CHANGES)
        # Changes before this were not heard by this process (none yet: it is not listening).
        self.heard_since_ms = NOT_LISTENING

    def start(self) -> None:
        """Start listening in the background (reconnecting after database outages)."""
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def drain(self) -> None:
        """Close every subscription, now and from now on: the process is shutting down.

        Long polls and event streams then end by themselves, instead of holding the server's
        graceful shutdown open until it cancels them.
        """
        self.draining = True
        for subscription in self.subscriptions:
            subscription.close()

    def subscribe(self, sites: SiteIds, owner: str = "") -> Subscription:
        """A new subscription to some sites' changes; call unsubscribe when the page goes away."""
        subscription = Subscription(sites, owner)
        self.subscriptions.add(subscription)
        if self.draining:
            subscription.close()
        return subscription

    def replay(self, subscription: Subscription, since_ms: int) -> None:
        """Offer a new subscription the changes heard since `since_ms` (less the slack)."""
        start = since_ms - REPLAY_SLACK_MS
        remembered_from = self.recent[0].at_ms if len(self.recent) == self.recent.maxlen else None
        if start < self.heard_since_ms or (remembered_from is not None and start < remembered_from):
            subscription.offer_everything(now_ms())
            return
        for change in reversed(self.recent):
            if change.at_ms < start:
                break
            subscription.offer(change)

    def held_by(self, owner: str) -> int:
        """How many subscriptions `owner` holds open in this process."""
        return sum(1 for subscription in self.subscriptions if subscription.owner == owner)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscription."""
        self.subscriptions.discard(subscription)

    def dispatch(self, payload: str) -> None:
        """Hand one notification to every subscription that shows its site."""
        try:
            message = json.loads(payload)
            site_id, kind = int(message["site_id"]), str(message["kind"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed live notification %r", payload[:200])
            return
        change = Change(now_ms(), site_id, kind)
        self.recent.append(change)
        for subscription in list(self.subscriptions):
            subscription.offer(change)

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.heard_since_ms = now_ms()
                    self.connected.set()
                    # Whatever changed while nobody listened: every open stream refreshes once.
                    for subscription in list(self.subscriptions):
                        subscription.offer_everything(self.heard_since_ms)
                    async for note in conn.notifies():
                        self.dispatch(note.payload)
            except (psycopg.Error, OSError) as exc:
                self.connected.clear()
                # Notifications sent while we were not listening are gone: a stream that asks
                # for that span gets a full refresh instead of a replay.
                self.recent.clear()
                self.heard_since_ms = NOT_LISTENING
                log.warning("live updates paused, database unreachable: %s", exc)
                await asyncio.sleep(RECONNECT_S)
