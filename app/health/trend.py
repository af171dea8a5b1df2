"""Trends of daily cell scores: Theil-Sen slope and a one-sided CUSUM, for many cells at once.

Rows are cells, columns are days; a missing day is NaN and simply left out. Theil-Sen (the
median of every pairwise slope) ignores up to ~29 % wild points, which a least-squares line
does not; CUSUM accumulates small persistent rises that no single day shows.
"""

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]


def theil_sen_slopes(scores: Matrix, days: Vector) -> Vector:
    """Per row, the median slope over every pair of days both present (NaN with < 2 days)."""
    dy = scores[:, None, :] - scores[:, :, None]  # [row, i, j] = y_j - y_i
    dx = days[None, :] - days[:, None]
    upper = np.triu(np.ones_like(dx, dtype=bool), k=1) & (dx != 0)
    slopes = np.where(upper[None, :, :], dy / np.where(dx == 0, 1.0, dx)[None, :, :], np.nan)
    flat = slopes.reshape(scores.shape[0], -1)
    present = ~np.isnan(flat)
    result = np.full(scores.shape[0], np.nan)
    rows = present.any(axis=1)
    if rows.any():
        result[rows] = np.nanmedian(flat[rows], axis=1)
    return result


def cusum_high(scores: Matrix, baseline: Vector, slack: float) -> Vector:
    """Per row, the highest one-sided CUSUM of (score - baseline - slack), skipping NaN days."""
    total = np.zeros(scores.shape[0])
    highest = np.zeros(scores.shape[0])
    for column in scores.T:
        step = np.nan_to_num(column - baseline - slack, nan=0.0)  # a missing day adds nothing
        total = np.maximum(0.0, total + step)
        highest = np.maximum(highest, total)
    return highest


def baseline_levels(scores: Matrix, days: int) -> Vector:
    """Per row, the median of the first `days` columns' scores (NaN when none is present)."""
    head = scores[:, :days]
    result = np.full(scores.shape[0], np.nan)
    rows = (~np.isnan(head)).any(axis=1)
    if rows.any():
        result[rows] = np.nanmedian(head[rows], axis=1)
    return result
