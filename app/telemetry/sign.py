"""The product's one sign convention for current and power: SunSpec's, positive is discharge.

SunSpec's DER models count active power as positive while the DER generates and negative while
it absorbs (model 701, `W`); a battery generates by discharging. Its storage models carry a
bank's current and power (802, `A` and `W`, "to/from the battery bank") and a string's current
(803, `StrA`) as signed values, and the charge and discharge limits as magnitudes (`AChaMax`,
`ADisChaMax`). Every description of a signed field quotes CONVENTION and every decision on a
sign asks `direction`, so the screens, the API, the exports and the interlocks cannot disagree.
"""

from enum import StrEnum

CONVENTION = "positive: discharging (out of the battery); negative: charging (SunSpec)"


class Direction(StrEnum):
    """Which way current flows through a battery."""

    CHARGE = "charge"
    DISCHARGE = "discharge"


def direction(value: float) -> Direction:
    """The direction of a current or power; no flow at all counts as discharge."""
    return Direction.DISCHARGE if value >= 0 else Direction.CHARGE
