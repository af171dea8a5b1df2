"""The collector: frames in, decoded and assembled per period, batches into the spool."""

import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from edge.can.announce import Announcements
from edge.can.assemble import Assembler, PeriodOutput
from edge.can.decode import Decoded, Frame, FrameDecoder
from edge.can.protocol import Protocol
from edge.counters import Counters, Reason
from edge.model import Target
from edge.site import SiteFile
from edge.uplink.spool import Spool
from edge.uplink.wire import (
    asset_record,
    batch_body,
    event_record,
    module_record,
    string_record,
    system_record,
)

log = logging.getLogger("edge.collector")
STATUS_LOG_INTERVAL_S = 60.0
# Live periods close this long after the wall clock leaves them, so that frames stamped just
# before a boundary but still queued on the bus are counted in their own period.
LATE_FRAMES_S = 0.2
ACKS_KEPT = 1000


@dataclass(frozen=True, slots=True)
class Ack:
    """A command acknowledgement read from the bus."""

    ts: float
    string: int
    module: int
    command_id: int
    result: int


class Collector:
    """Decodes and assembles frames of one site and spools a batch per period."""

    def __init__(
        self, site: SiteFile, protocol: Protocol, spool: Spool, counters: Counters
    ) -> None:
        self.site = site
        self.spool = spool
        self.counters = counters
        self.decoder = FrameDecoder(protocol, counters)
        self.assembler = Assembler(
            period_s=site.collector.period_s,
            cells=site.site.cells_per_module,
            temps=site.site.temps_per_module,
            comms_timeout_s=site.collector.comms_timeout_s,
            fault_names=protocol.fault_names,
            counters=counters,
        )
        # Kept for the command path; bounded so a long run never grows without limit.
        self.acks: deque[Ack] = deque(maxlen=ACKS_KEPT)
        self._logged_at = 0.0
        self.announcements = Announcements()  # the uplink confirms them

    def feed(self, frame: Frame) -> None:
        """Decode one frame and fold it into the site's state."""
        decoded = self.decoder.decode(frame)
        if decoded is None:
            return
        for piece in decoded.split():
            if not self._known_asset(piece):
                continue
            if piece.target is Target.ACK:
                self.acks.append(self._ack(piece))
            else:
                self.assembler.add(piece)

    @staticmethod
    def _ack(decoded: Decoded) -> Ack:
        values = {field.field: int(value) for field, value in decoded.values}
        command_id, result = values.get("command_id", -1), values.get("result", -1)
        return Ack(decoded.ts, decoded.string, decoded.module, command_id, result)

    def _known_asset(self, decoded: Decoded) -> bool:
        info = self.site.site
        if decoded.string <= info.strings and decoded.module <= info.modules_per_string:
            return True
        self.counters.reject(
            Reason.UNKNOWN_ASSET,
            f"string {decoded.string} module {decoded.module} is not in site {info.code}",
        )
        return False

    def flush(self, now: float) -> int | None:
        """Spool what is ready at `now` as one batch; returns its sequence number, if any."""
        output = self.assembler.flush(now)
        if output.held_back:
            # Every sample of such a module is held back, so this must not pass unnoticed.
            self.counters.reject(
                Reason.INCOMPLETE_MODULE, output.held_back_detail, count=output.held_back
            )
        self._log_status(now)
        if not (output.modules or output.strings or output.systems or output.events):
            return None
        heard = self.announcements.due((s.string, s.module) for s in output.modules)
        seq = self.spool.append(lambda seq: self._body(seq, output, now, heard))
        self.announcements.sent(seq, heard)
        return seq

    def _body(
        self, seq: int, output: PeriodOutput, now: float, heard: list[tuple[int, int]]
    ) -> dict[str, object]:
        # Read inside the spool's transaction, so the counts include this batch's own drops.
        self.counters.spool_depth = self.spool.depth()
        self.counters.spool_dropped = self.spool.dropped_so_far()
        self.counters.dead_letters = self.spool.dead_letters()
        self.counters.dead_dropped = self.spool.dead_dropped()
        self.counters.spool_quarantined = self.spool.quarantined
        info = self.site.site
        return batch_body(
            edge_id=self.spool.edge_id,
            seq=seq,
            site=self.site.site.code,
            created_at=now,
            counters=self.counters.snapshot(),
            modules=[module_record(s) for s in output.modules],
            strings=[string_record(s) for s in output.strings],
            events=[event_record(e) for e in output.events],
            assets=[
                asset_record(
                    string,
                    module,
                    cell_count=info.cells_per_module,
                    temp_count=info.temps_per_module,
                )
                for string, module in heard
            ],
            systems=[system_record(s) for s in output.systems],
        )

    def _log_status(self, now: float) -> None:
        if time.monotonic() - self._logged_at >= STATUS_LOG_INTERVAL_S:
            self._logged_at = time.monotonic()
            log.info("counters %s", self.counters.snapshot())

    def run(self, frames: Iterable[Frame | None], *, clock: str = "wall") -> None:
        """Consume frames; periods close by wall time (live) or by frame time (replay)."""
        period = self.site.collector.period_s
        next_flush: float | None = None
        last_ts = 0.0
        for frame in frames:
            if frame is not None:
                self.feed(frame)
                last_ts = frame.ts
            now = time.time() - LATE_FRAMES_S if clock == "wall" else last_ts
            if next_flush is None:
                next_flush = now + period
            if now >= next_flush:
                self.flush(now)
                next_flush = now + period
        if clock == "frames" and last_ts:
            # The log ended: close the last period and report comms as of its end.
            self.flush(last_ts + period)
