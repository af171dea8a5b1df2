"""Frame encoding and decoding with cantools, plus the rounding that removes float noise."""

import math
from typing import Any


def decode(message: Any, data: bytes) -> dict[str, float]:
    """All signal values of a frame (multiplexed groups resolved by cantools)."""
    values: dict[str, float] = message.decode(data, decode_choices=False)
    return values


def decimals(scale: float, offset: float) -> int:
    """Decimal places that raw * scale + offset can carry (0.001 -> 3); -1 if not decimal."""
    for places in range(10):
        factor = 10**places
        if math.isclose(scale * factor, round(scale * factor), abs_tol=1e-9) and math.isclose(
            offset * factor, round(offset * factor), abs_tol=1e-9
        ):
            return places
    return -1


def encode(message: Any, values: dict[str, float]) -> bytes:
    """Encode a frame with cantools; signals not given are sent as raw zero, ranges unchecked."""
    full = {signal.name: float(signal.offset) for signal in message.signals}
    full.update(values)
    data: bytes = message.encode(full, scaling=True, strict=False)
    return data
