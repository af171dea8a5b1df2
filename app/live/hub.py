"""One LISTEN connection per app process, fanned out to the page streams of that process.

Writers NOTIFY on one channel with a small JSON payload naming the site; every app process
hears every notification, so a page sees changes made through any process. A subscriber keeps
only a flag per site (not a queue of messages): a burst of batches becomes one refresh.
"""

import asyncio
import contextlib
import json
import logging

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import SiteIds

CHANNEL = "ridethrough_live"
RECONNECT_S = 2.0

log = logging.getLogger("app.live")


async def notify(session: AsyncSession, *, site_id: int, kind: str) -> None:
    """Tell open pages that something of `kind` changed at a site (delivered at commit)."""
    payload = json.dumps({"site_id": site_id, "kind": kind})
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
    )


class Subscription:
    """What changed for one open page since it last looked."""

    def __init__(self, sites: SiteIds) -> None:
        self.sites = None if sites is None else frozenset(sites)  # None: every site
        self.kinds: set[str] = set()
        self.changed = asyncio.Event()
        self.closed = False  # the process is shutting down: waiters should answer and go

    def close(self) -> None:
        """Wake the waiter for good."""
        self.closed = True
        self.changed.set()

    def offer(self, site_id: int, kind: str) -> None:
        """Record a change if this page shows that site."""
        if self.sites is None or site_id in self.sites:
            self.kinds.add(kind)
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

    def subscribe(self, sites: SiteIds) -> Subscription:
        """A new subscription to some sites' changes; call unsubscribe when the page goes away."""
        subscription = Subscription(sites)
        self.subscriptions.add(subscription)
        if self.draining:
            subscription.close()
        return subscription

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
        for subscription in list(self.subscriptions):
            subscription.offer(site_id, kind)

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    async for note in conn.notifies():
                        self.dispatch(note.payload)
            except (psycopg.Error, OSError) as exc:
                self.connected.clear()
                log.warning("live updates paused, database unreachable: %s", exc)
                await asyncio.sleep(RECONNECT_S)
