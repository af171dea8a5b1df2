"""Robust deviation of each cell from its module at one instant: median and MAD, no means.

A cell's score is |v - median| / scale, where scale is the module's own spread at that instant
(1.4826 x the median absolute deviation, which estimates a standard deviation without letting
the odd cell out inflate it). The spread widens where the OCV curve is steep (near empty and
full) and when cold cells' resistance rises, so dividing by it normalises the score for state of
charge and temperature: the same score means the same "this far out of the pack" everywhere.
"""

from collections.abc import Sequence
from statistics import median

MAD_TO_SIGMA = 1.4826  # makes the MAD estimate a normal distribution's standard deviation
SCALE_FLOOR_V = 0.001  # the BMU's resolution: a spread finer than 1 mV is noise, not signal
SCORE_CAP = 20.0  # one wild reading counts as 20 module spreads, not as a day's worth


def robust_scale(values: Sequence[float], *, floor: float = SCALE_FLOOR_V) -> float:
    """1.4826 x the median absolute deviation of `values`, at least `floor`."""
    if not values:
        raise ValueError("robust_scale needs at least one value")
    centre = median(values)
    return max(floor, MAD_TO_SIGMA * median(abs(v - centre) for v in values))


def deviation_scores(cell_v: Sequence[float], *, floor: float = SCALE_FLOOR_V) -> list[float]:
    """Each cell's |v - module median| in units of the module's robust spread, capped."""
    centre = median(cell_v)
    scale = robust_scale(cell_v, floor=floor)
    return [min(SCORE_CAP, abs(v - centre) / scale) for v in cell_v]
