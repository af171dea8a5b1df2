"""LFP cell chemistry: open-circuit voltage curve and the BMS's limits (DESIGN.md §7)."""

import bisect
from itertools import pairwise

# (SoC, OCV in V): steep below 10 % and above 95 %, a flat plateau in between.
OCV_CURVE = (
    (0.0, 2.50),
    (0.02, 2.90),
    (0.05, 3.10),
    (0.10, 3.20),
    (0.20, 3.25),
    (0.30, 3.27),
    (0.50, 3.29),
    (0.70, 3.31),
    (0.90, 3.33),
    (0.95, 3.35),
    (0.98, 3.40),
    (0.995, 3.50),
    (1.0, 3.60),
)
_SOCS = [soc for soc, _ in OCV_CURVE]

NOMINAL_V = 3.2
CELL_OV_WARNING_V = 3.50
CELL_OV_ALARM_V = 3.65
CELL_UV_WARNING_V = 2.90
CELL_UV_ALARM_V = 2.70
OVER_TEMP_WARNING_C = 45.0
OVER_TEMP_ALARM_C = 55.0
UNDER_TEMP_WARNING_C = 0.0
INSULATION_WARNING_KOHM = 1000.0
INSULATION_ALARM_KOHM = 500.0
# The BMS's own hardware protection, above the alarm levels: it opens the string by itself.
PROTECT_CELL_HIGH_V = 3.75
PROTECT_CELL_LOW_V = 2.50
PROTECT_TEMP_C = 65.0
# The BMS's current limits taper near full and empty, as a real one does, and reach zero before
# the warning levels: ordinary charge and discharge never raise a cell voltage warning.
CHARGE_TAPER_FROM_V = 3.40  # highest cell: full charge current below this ...
CHARGE_END_V = 3.45  # ... none at or above this
DISCHARGE_TAPER_FROM_V = 3.05  # lowest cell: full discharge current above this ...
DISCHARGE_END_V = 2.95  # ... none at or below this


def ocv(soc: float) -> float:
    """Open-circuit voltage of an LFP cell at state of charge `soc` (0..1)."""
    soc = min(1.0, max(0.0, soc))
    i = bisect.bisect_right(_SOCS, soc)
    if i >= len(OCV_CURVE):
        return OCV_CURVE[-1][1]
    (s0, v0), (s1, v1) = OCV_CURVE[i - 1], OCV_CURVE[i]
    return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)


def stored_wh_per_ah(soc: float) -> float:
    """Energy a cell holds per Ah of capacity at state of charge `soc`: the OCV integrated
    from empty (exact, the curve being piecewise linear)."""
    soc = min(1.0, max(0.0, soc))
    total = 0.0
    for (s0, v0), (s1, _) in pairwise(OCV_CURVE):
        if soc <= s0:
            break
        top = min(soc, s1)
        total += (top - s0) * (v0 + ocv(top)) / 2
    return total
