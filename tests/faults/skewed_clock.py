"""`python -m tests.faults.skewed_clock ARGS`: `python -m edge ARGS` with its wall clock shifted.

The shift (RIDETHROUGH_TEST_CLOCK_OFFSET_S seconds) applies to time.time(), which stamps CAN
frames, samples and batches, and to datetime.now(); waits run on the monotonic clock and are
unaffected. This is how an edge with a wrong real-time clock behaves (libfaketime does the same
from outside, but hangs Python's sleeps on this platform).
"""

import datetime
import os
import runpy
import time
from typing import Self

OFFSET_S = float(os.environ["RIDETHROUGH_TEST_CLOCK_OFFSET_S"])
_real_time = time.time


def _skewed_time() -> float:
    return _real_time() + OFFSET_S


class _SkewedDatetime(datetime.datetime):
    """datetime whose now() reads the shifted clock (the edge imports it after this runs)."""

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> Self:
        return cls.fromtimestamp(_skewed_time(), tz)


time.time = _skewed_time
datetime.datetime = _SkewedDatetime  # type: ignore[misc]
runpy.run_module("edge", run_name="__main__", alter_sys=True)
