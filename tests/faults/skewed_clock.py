"""`python -m tests.faults.skewed_clock ARGS`: `python -m edge ARGS` with its wall clock shifted.

The shift (RIDETHROUGH_TEST_CLOCK_OFFSET_S seconds) applies to time.time(), which stamps CAN
frames, samples and batches; waits run on the monotonic clock and are unaffected. This is how
an edge with a wrong real-time clock behaves (libfaketime does the same from outside, but
hangs Python's sleeps on this platform).
"""

import os
import runpy
import time

OFFSET_S = float(os.environ["RIDETHROUGH_TEST_CLOCK_OFFSET_S"])
_real_time = time.time


def _skewed_time() -> float:
    return _real_time() + OFFSET_S


time.time = _skewed_time
runpy.run_module("edge", run_name="__main__", alter_sys=True)
