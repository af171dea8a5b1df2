"""Uplink: push spooled batches to the backend, confirm them, back off while it is away."""

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from edge.counters import Counters
from edge.uplink.spool import Spool

log = logging.getLogger("edge.uplink.sender")
INGEST_PATH = "/api/v1/ingest"
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
# 4xx answers other than these mean the batch itself is unusable: keep it aside, never resend.
RETRYABLE_4XX = {401, 403, 404, 408, 409, 425, 429}


@dataclass
class Backoff:
    """Jittered exponential backoff (full jitter), reset by a success."""

    delay: float = 0.0

    def failed(self) -> float:
        """The next wait after a failure."""
        self.delay = min(BACKOFF_MAX_S, max(BACKOFF_FIRST_S, self.delay * 2))
        return random.uniform(self.delay / 2, self.delay)

    def succeeded(self) -> None:
        """Back to full speed."""
        self.delay = 0.0


class Uplink:
    """Sends one batch at a time; a batch leaves the spool only when the backend confirms it."""

    def __init__(
        self,
        spool: Spool,
        counters: Counters,
        *,
        base_url: str,
        token: str,
        timeout_s: float = 10,
        on_confirmed: Callable[[int], None] = lambda seq: None,
    ) -> None:
        self.spool = spool
        self.counters = counters
        self.on_confirmed = on_confirmed
        self.client = httpx.Client(
            base_url=base_url,
            timeout=timeout_s,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
        self.backoff = Backoff()
        self.stopping = threading.Event()

    def send_next(self) -> bool:
        """Try to send the next batch; True when one was confirmed (call again at once)."""
        batch = self.spool.next_batch()
        if batch is None:
            return False
        try:
            # The send time lets the backend measure this edge's clock against its own.
            sent_at = {"X-Edge-Sent-At": f"{time.time():.3f}"}
            response = self.client.post(INGEST_PATH, content=batch.body, headers=sent_at)
        except httpx.TransportError as exc:
            log.warning("backend unreachable (%s); batch %d stays spooled", exc, batch.seq)
            return False
        if response.status_code == 200:
            self.spool.confirm(batch.seq)
            self.on_confirmed(batch.seq)
            self.counters.last_confirmed_seq = batch.seq
            self.backoff.succeeded()
            return True
        if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX:
            log.error(
                "backend refused batch %d: %s %s",
                batch.seq,
                response.status_code,
                response.text[:500],
            )
            self.spool.bury(batch.seq, f"{response.status_code}: {response.text[:2000]}")
            return True
        log.warning("backend answered %d for batch %d; will retry", response.status_code, batch.seq)
        return False

    def run(self, idle_s: float = 0.2) -> None:
        """Send until stopped; wait briefly when idle and back off after failures."""
        while not self.stopping.is_set():
            if self.send_next():
                continue
            wait = self.backoff.failed() if self.spool.depth() else idle_s
            self.stopping.wait(wait)

    def close(self) -> None:
        """Stop the loop and close the connection."""
        self.stopping.set()
        self.client.close()
