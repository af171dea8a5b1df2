"""A light fleet feed: every site's real edge uplink, replaying batches a real edge produced.

One real `python -m edge simulate` runs a site for a few seconds with no backend to reach, so
its spool fills with real batches (simulated BMS -> CAN frames -> decode -> assembly -> wire
JSON). The feed then gives each load site its own real `Spool` and `Uplink` (SQLite with fsync,
gzip JSON, one batch in flight, confirm, retry and backoff, exactly as an edge does) and once a
second spools, for every site, the next captured batch restamped to the current period. It
skips only simulating and decoding CAN for every site, which alone saturates a small machine
(docs/BENCHMARKS.md, fleet load).
"""

import gzip
import json
import math
import signal
import sqlite3
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from edge.counters import Counters
from edge.uplink.sender import Uplink
from edge.uplink.spool import Spool
from edge.uplink.wire import batch_body, iso
from tests.edge_process import REFERENCE_MAPPING, edge_env, start_edge, write_site_file

# Nothing listens here: the capturing edge keeps every batch in its spool.
NOWHERE = "http://127.0.0.1:9"
# As the edge: a period is spooled shortly after the wall clock leaves it.
LATE_S = 0.2
UNCHECKED_TOKEN = "capture-only"  # noqa: S105 - never sent anywhere that checks it


def capture_batches(
    work: Path, *, strings: int, modules: int, seconds: float
) -> list[dict[str, Any]]:
    """Real batches of one simulated site: those carrying every module and string."""
    site_file = write_site_file(
        work,
        code="capture",
        mapping=REFERENCE_MAPPING,
        strings=strings,
        modules=modules,
        simulator="frame_period_s = 0.5",
    )
    spool = work / "capture.sqlite3"
    # No backend, so no token is checked; a drain timeout of 0 keeps the spool as it is.
    env = edge_env(
        backend=NOWHERE,
        token=UNCHECKED_TOKEN,
        spool=spool,
        RIDETHROUGH_EDGE_LOG_LEVEL="CRITICAL",
        RIDETHROUGH_EDGE_DRAIN_TIMEOUT_S="0",
    )
    process = start_edge(["simulate", "--config", str(site_file)], env, output=subprocess.DEVNULL)
    time.sleep(seconds)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    with closing(sqlite3.connect(spool)) as db:
        rows = db.execute("SELECT body FROM batch ORDER BY seq").fetchall()
    batches = [json.loads(gzip.decompress(body)) for (body,) in rows]
    full = [
        b
        for b in batches
        if len(b["modules"]) == strings * modules and len(b["strings"]) == strings
    ]
    if not full:
        raise RuntimeError(f"the capturing edge spooled no complete batch in {seconds} s")
    return full


def restamp(
    template: dict[str, Any], *, site: str, edge_id: str, seq: int, period: float
) -> dict[str, Any]:
    """A captured batch as this site's batch `seq` for the period starting at `period`."""
    stamp = iso(period)
    return batch_body(
        edge_id=edge_id,
        seq=seq,
        site=site,
        created_at=period + 1 + LATE_S,
        counters={},
        modules=[{**row, "ts": stamp} for row in template["modules"]],
        strings=[{**row, "ts": stamp} for row in template["strings"]],
        events=[],
        assets=[],  # the bench's sites are registered from their configuration
    )


class ReplaySite:
    """One site's real spool and uplink, fed captured batches."""

    def __init__(self, code: str, token: str, *, backend: str, spool: Path) -> None:
        self.code = code
        self.spool = Spool(spool)
        self.uplink = Uplink(self.spool, Counters(), base_url=backend, token=token)
        self.thread = threading.Thread(target=self.uplink.run, name=f"uplink-{code}", daemon=True)

    def spool_period(self, template: dict[str, Any], period: float) -> None:
        """Spool one batch for the period starting at `period`."""
        self.spool.append(
            lambda seq: restamp(
                template, site=self.code, edge_id=self.spool.edge_id, seq=seq, period=period
            )
        )

    def close(self) -> None:
        """Stop uploading and close the spool."""
        self.uplink.close()
        self.thread.join(timeout=15)
        self.spool.close()


class ReplayFleet:
    """Many sites' uplinks in one process, each spooling a batch a second."""

    def __init__(self, sites: list[ReplaySite], templates: list[dict[str, Any]]) -> None:
        self.sites = sites
        self.templates = templates
        self.spools = [site.spool.path for site in sites]
        self.stopping = threading.Event()
        self.producer = threading.Thread(target=self._produce, name="replay", daemon=True)

    def start(self) -> None:
        """Start every uplink and the once-a-second producer."""
        for site in self.sites:
            site.thread.start()
        self.producer.start()

    def _produce(self) -> None:
        period = float(math.floor(time.time()))
        n = 0
        # Each period is spooled once it has ended; a late producer catches up, skipping none.
        while not self.stopping.wait(max(0.0, period + 1 + LATE_S - time.time())):
            template = self.templates[n % len(self.templates)]
            for site in self.sites:
                site.spool_period(template, period)
            period += 1
            n += 1

    def stop(self, drain_s: float = 60) -> None:
        """Stop producing, let the uplinks empty their spools (as an edge does), then close."""
        self.stopping.set()
        self.producer.join(timeout=30)
        deadline = time.monotonic() + drain_s
        while any(site.spool.depth() for site in self.sites) and time.monotonic() < deadline:
            time.sleep(0.2)
        for site in self.sites:
            site.close()
