"""Collector counters, and logging that says each rejection reason once per interval."""

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("edge.rejections")
LOG_INTERVAL_S = 60.0


class Reason:
    """Why a frame or a value was not forwarded as valid data."""

    UNKNOWN_ID = "unknown_id"
    WRONG_DLC = "wrong_dlc"
    UNDECODABLE = "undecodable"  # e.g. a multiplexer value the DBC does not define
    INVALID_FLAG = "invalid_flag"
    OUT_OF_RANGE = "out_of_range"
    NOT_A_NUMBER = "not_a_number"
    BAD_ADDRESS = "bad_address"
    UNKNOWN_ASSET = "unknown_asset"
    BAD_LOG_LINE = "bad_log_line"
    CELL_OUTSIDE_SITE = "cell_outside_site"  # the mapping binds more cells than the site has
    INCOMPLETE_MODULE = "incomplete_module"  # a module sample lacking cells that never arrived


@dataclass
class Counters:
    """Frames seen, decoded and rejected (by reason); sent to the backend with each batch."""

    frames: int = 0
    decoded: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    spool_depth: int = 0
    spool_dropped: int = 0
    dead_letters: int = 0  # batches the backend refused, kept aside until re-sent
    dead_dropped: int = 0  # dead letters dropped past the table's bound
    spool_quarantined: int = 0  # corrupt spool files moved aside, kept next to the spool
    last_confirmed_seq: int | None = None
    last_confirmed_at: float | None = None
    _logged_at: dict[str, float] = field(default_factory=dict)

    def reject(self, reason: str, detail: str, count: int = 1) -> None:
        """Count a rejection; log it if this reason was not logged in the last interval."""
        self.rejected[reason] += count
        now = time.monotonic()
        if now - self._logged_at.get(reason, -LOG_INTERVAL_S) >= LOG_INTERVAL_S:
            self._logged_at[reason] = now
            log.warning(
                "rejected (%s): %s [total %d; next report in %.0f s]",
                reason,
                detail,
                self.rejected[reason],
                LOG_INTERVAL_S,
            )

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain data for the wire and the log."""
        return {
            "frames": self.frames,
            "decoded": self.decoded,
            "rejected": dict(sorted(self.rejected.items())),
            "spool_depth": self.spool_depth,
            "spool_dropped": self.spool_dropped,
            "dead_letters": self.dead_letters,
            "dead_dropped": self.dead_dropped,
            "spool_quarantined": self.spool_quarantined,
            "last_confirmed_seq": self.last_confirmed_seq,
        }
