"""Pure decoding: one CAN frame in, addressed model values out (no I/O)."""

import math
from dataclasses import dataclass, replace

from cantools.database.errors import DecodeError

from edge.can.codec import decode
from edge.can.protocol import Protocol, ResolvedField, Route
from edge.counters import Counters, Reason
from edge.model import Target

MAX_STRING = 31
MAX_MODULE = 32


@dataclass(frozen=True, slots=True)
class Frame:
    """A received CAN frame, independent of the python-can Message class."""

    ts: float  # seconds since the epoch (UTC)
    frame_id: int
    extended: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class Decoded:
    """Valid values from one frame, with where they belong."""

    target: Target
    string: int
    module: int
    ts: float
    values: tuple[tuple[ResolvedField, float], ...]
    invalid: int  # values of this frame that were flagged invalid or out of range
    # Cells the BMS flagged invalid: unknown now, stored as null rather than their last value.
    invalid_cells: tuple[ResolvedField, ...] = ()

    def split(self) -> list["Decoded"]:
        """One Decoded per asset: a frame with cells numbered across a string, or a multiplexer
        that selects the string, carries values of several modules or strings."""
        if all(f.string is None and f.module is None for f, _ in self.values) and all(
            f.string is None and f.module is None for f in self.invalid_cells
        ):
            return [self]
        values: dict[tuple[int, int], list[tuple[ResolvedField, float]]] = {}
        invalid: dict[tuple[int, int], list[ResolvedField]] = {}
        for field, value in self.values:
            values.setdefault(self._asset(field), []).append((field, value))
        for field in self.invalid_cells:
            invalid.setdefault(self._asset(field), []).append(field)
        pieces = []
        for key in dict.fromkeys([*values, *invalid]):
            bad = tuple(invalid.get(key, ()))
            pieces.append(
                replace(
                    self,
                    string=key[0],
                    module=key[1],
                    values=tuple(values.get(key, ())),
                    invalid=len(bad),
                    invalid_cells=bad,
                )
            )
        return pieces

    def _asset(self, field: ResolvedField) -> tuple[int, int]:
        return (field.string or self.string, field.module or self.module)


class FrameDecoder:
    """Decodes frames of one protocol, counting every frame and every rejection."""

    def __init__(self, protocol: Protocol, counters: Counters) -> None:
        self.protocol = protocol
        self.counters = counters

    def decode(self, frame: Frame) -> Decoded | None:
        """The frame's valid values, or None when the whole frame is rejected."""
        self.counters.frames += 1
        route = self.protocol.route_for(frame.frame_id, frame.extended)
        if route is None:
            self.counters.reject(Reason.UNKNOWN_ID, f"frame id {frame.frame_id:#x}")
            return None
        if len(frame.data) != route.length:
            detail = f"{route.message} ({frame.frame_id:#x}): {len(frame.data)} bytes"
            self.counters.reject(Reason.WRONG_DLC, f"{detail}, expected {route.length}")
            return None
        try:
            signals = decode(route.message_def, frame.data)
        except DecodeError as exc:  # found by fuzzing: an undefined multiplexer value raised
            self.counters.reject(
                Reason.UNDECODABLE, f"{route.message} ({frame.frame_id:#x}): {exc}"
            )
            return None
        address = self._address(route, frame, signals)
        if address is None:
            return None
        self.counters.decoded += 1
        values, invalid_cells, rejected = self._valid_values(route, signals, address)
        return Decoded(
            route.target,
            address[0],
            address[1],
            frame.ts,
            tuple(values),
            rejected,
            tuple(invalid_cells),
        )

    def _address(
        self, route: Route, frame: Frame, signals: dict[str, float]
    ) -> tuple[int, int] | None:
        string = route.string.read(frame.frame_id, signals) if route.string else 0
        module = route.module.read(frame.frame_id, signals) if route.module else 0
        bad_string = route.string is not None and not 1 <= string <= MAX_STRING
        bad_module = route.module is not None and not 0 <= module <= MAX_MODULE
        needs_module = route.module is not None and route.target is Target.MODULE and module == 0
        if bad_string or bad_module or needs_module:
            self.counters.reject(
                Reason.BAD_ADDRESS,
                f"{route.message} ({frame.frame_id:#x}): string {string}, module {module}",
            )
            return None
        return string, module

    def _valid_values(
        self, route: Route, signals: dict[str, float], address: tuple[int, int]
    ) -> tuple[list[tuple[ResolvedField, float]], list[ResolvedField], int]:
        out = []
        invalid_cells = []
        rejected = 0
        # cantools returns only the multiplexed group present, so this loop is short.
        for name, raw in signals.items():
            field = route.by_signal.get(name)
            if field is None:
                continue
            value = raw * field.factor + 0.0  # + 0.0: a sign-flipped zero is 0.0, not -0.0
            reason = self._problem(field, signals, value)
            if reason is not None:
                rejected += 1
                self.counters.reject(reason, f"{route.message}.{name} = {raw!r} at {address}")
                if reason == Reason.INVALID_FLAG and field.field == "cell_v":
                    invalid_cells.append(field)
                continue
            out.append((field, round(value, field.decimals) if field.decimals >= 0 else value))
        return out, invalid_cells, rejected

    @staticmethod
    def _problem(field: ResolvedField, signals: dict[str, float], value: float) -> str | None:
        if field.valid is not None and not signals.get(field.valid):
            return Reason.INVALID_FLAG
        if math.isnan(value) or math.isinf(value):
            return Reason.NOT_A_NUMBER
        if not field.low <= value <= field.high:
            return Reason.OUT_OF_RANGE
        return None
