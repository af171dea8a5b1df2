"""`python -m edge backfill`: a site's history generated once and sent through the normal ingest.

The simulator generates the weeks (edge/sim/history.py); their batches go into a spool of their
own and leave it through the edge's uplink, so the backend validates and stores them like any
other edge's: samples, alarms, isolations, the policy's commands, rollups and KPIs all come out
of them. The spool remembers which history it holds; once sent, it is not generated again.
Generating again after an interruption gives the same samples, events and policy actions (the
same seed, span and numbering), which the backend stores once.
"""

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import httpx

from edge.can.assemble import PeriodOutput
from edge.can.protocol import load_protocol
from edge.config import EdgeSettings
from edge.control.journal import Journal
from edge.counters import Counters
from edge.sim.history import HistoryGenerator, Span
from edge.site import SiteFile, load_site_file
from edge.uplink.sender import Uplink
from edge.uplink.spool import Spool
from edge.uplink.wire import batch_body, event_record, module_record, string_record

log = logging.getLogger("edge.sim.backfill")
NOTE = "history"
BATCH_S = 4 * 3600.0  # four hours of samples per batch
MAX_QUEUED = 20  # generation waits while this many batches are still to be sent
SPOOL_BYTES = 1024 * 1024 * 1024
REPORT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Marker:
    """The history a spool holds: its span, and how far it got."""

    end: float
    days: int
    period_s: float
    generated: bool = False
    sent: bool = False

    def same_request(self, days: int, period_s: float) -> bool:
        """Whether this is the history asked for (else a new one is made)."""
        return (self.days, self.period_s) == (days, period_s)

    @property
    def span(self) -> Span:
        """The span generated."""
        return Span(self.end - self.days * 86_400, self.end, self.period_s)


def read_marker(spool: Spool) -> Marker | None:
    """The spool's record of its history, if it has one."""
    text = spool.note(NOTE)
    return None if text is None else Marker(**json.loads(text))


def write_marker(spool: Spool, marker: Marker) -> None:
    """Record how far the history got."""
    spool.set_note(NOTE, json.dumps(asdict(marker)))


def backfill(
    settings: EdgeSettings, site_path: Path, *, days: int, period_s: float, now: float
) -> Span | None:
    """Make sure the site's history of `days` is stored; its span once it is (or already was)."""
    site = load_site_file(site_path)
    spool = Spool(settings.history_spool_for(site.site.code), max_bytes=SPOOL_BYTES)
    try:
        marker = read_marker(spool)
        if marker is not None and marker.same_request(days, period_s) and marker.sent:
            log.info(
                "site %s: %d days of history already stored (as %s records); nothing to do",
                site.site.code,
                days,
                spool.path,
            )
            return marker.span
        if marker is None or not marker.same_request(days, period_s):
            # Ends at the minute the request came: the live data follows on.
            marker = Marker(end=now // 60 * 60, days=days, period_s=period_s)
            write_marker(spool, marker)
        return marker.span if _complete(settings, site, spool, marker) else None
    finally:
        spool.close()


def _complete(settings: EdgeSettings, site: SiteFile, spool: Spool, marker: Marker) -> bool:
    """Generate (unless done before), send and report; record each stage as it ends."""
    protocol = load_protocol(site.mapping)
    journal_path = spool.path.with_suffix(".commands.sqlite3")
    url, token = str(settings.backend_url), settings.token.get_secret_value()
    client = httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"})
    uplink = Uplink(spool, Counters(), base_url=url, token=token)
    sender = threading.Thread(target=uplink.run, name="uplink", daemon=True)
    sender.start()
    try:
        if not marker.generated:
            spool.discard_pending()
            for stale in (journal_path, Path(f"{journal_path}-wal"), Path(f"{journal_path}-shm")):
                stale.unlink(missing_ok=True)  # numbered afresh, as the first time
        journal = Journal(journal_path)
        generator = HistoryGenerator(
            site, protocol, marker.span, journal=journal, client=client, edge_id=spool.edge_id
        )
        if not marker.generated:
            _generate(generator, spool, site.site.code)
            marker = replace(marker, generated=True)
            write_marker(spool, marker)
        sent = _drain(spool) and _report(generator, journal)
        if sent:
            write_marker(spool, replace(marker, sent=True))
        journal.close()
        return sent
    finally:
        uplink.close()
        sender.join(timeout=15)
        client.close()


def _generate(generator: HistoryGenerator, spool: Spool, code: str) -> None:
    """Spool the history batch by batch (four hours of samples each) as the uplink sends them."""
    started, batch = time.monotonic(), PeriodOutput()
    per_batch = max(1, round(BATCH_S / generator.span.period_s))
    next_day = generator.span.start + 86_400
    for count, output in enumerate(generator.periods(), 1):
        batch.modules += output.modules
        batch.strings += output.strings
        batch.events += output.events
        if count % per_batch == 0:
            _spool(spool, code, batch, created_at=generator.now)
            batch = PeriodOutput()
        if generator.now >= next_day:
            next_day += 86_400
            log.info(
                "site %s: %d of %d days generated (%.0f s)",
                code,
                round((generator.now - generator.span.start) / 86_400),
                generator.span.days,
                time.monotonic() - started,
            )
    if batch.modules or batch.strings or batch.events:
        _spool(spool, code, batch, created_at=generator.now)


def _spool(spool: Spool, code: str, output: PeriodOutput, *, created_at: float) -> None:
    while spool.depth() >= MAX_QUEUED:
        time.sleep(0.02)  # the uplink is behind: memory and disk stay bounded
    counters = Counters()

    def body(seq: int) -> dict[str, object]:
        return batch_body(
            edge_id=spool.edge_id,
            seq=seq,
            site=code,
            created_at=created_at,
            counters=counters.snapshot(),
            modules=[module_record(s) for s in output.modules],
            strings=[string_record(s) for s in output.strings],
            events=[event_record(e) for e in output.events],
            assets=[],
        )

    # Stamped with its own (old) time, the batch counts as backlog: sent oldest first.
    spool.append(body, now=created_at)


def _drain(spool: Spool, timeout_s: float = 600.0) -> bool:
    """Wait until the backend has every batch; False if it stopped taking them."""
    deadline = time.monotonic() + timeout_s
    while spool.depth() and time.monotonic() < deadline:
        time.sleep(0.05)
    if spool.depth():
        log.error(
            "the backend did not take the history; %d batches wait in %s", spool.depth(), spool.path
        )
    return spool.depth() == 0


def _report(generator: HistoryGenerator, journal: Journal) -> bool:
    """Report the policy's actions in the history; True once the backend has them all."""
    runner = generator.runner
    deadline = time.monotonic() + REPORT_TIMEOUT_S
    while runner is not None and journal.unreported_actions():
        runner.report_pending()
        if time.monotonic() > deadline:
            log.error("the backend did not take the history's policy actions")
            return False
        if journal.unreported_actions():
            time.sleep(0.5)
    return True
