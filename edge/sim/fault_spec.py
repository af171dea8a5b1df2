"""A fault as written on the command line (`--fault cell_ov:string=1,module=3,at=30`), in a
site file or in tests: plain data that imports nothing of the simulator, so a site file can be
checked without loading the simulated plant."""

from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """Faults the simulator can inject."""

    CELL_OV = "cell_ov"
    CELL_UV = "cell_uv"
    OVER_TEMP = "over_temp"
    INSULATION_DROP = "insulation_drop"
    COMMS_LOSS = "comms_loss"
    CONTACTOR_FAILURE = "contactor_failure"
    # A module's cooling stops: it warms towards ambient + size with its thermal time constant,
    # so the warning comes before the alarm (unlike over_temp, a sensor reading that jumps).
    COOLING_FAILURE = "cooling_failure"


@dataclass(frozen=True)
class Fault:
    """One fault at one place, starting `at` seconds after the simulator starts."""

    kind: FaultKind
    string: int = 1
    module: int = 1
    cell: int = 1
    at: float = 0.0
    size: float | None = None  # volts, kelvin or kOhm, depending on the kind

    @classmethod
    def parse(cls, text: str) -> "Fault":
        """Parse 'kind[:key=value,...]'; raises ValueError naming the bad part."""
        kind_text, _, rest = text.partition(":")
        try:
            kind = FaultKind(kind_text)
        except ValueError:
            choices = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"unknown fault {kind_text!r} (choose from {choices})") from None
        params: dict[str, float] = {}
        for item in filter(None, rest.split(",")):
            key, sep, value = item.partition("=")
            if not sep or key not in {"string", "module", "cell", "at", "size"}:
                raise ValueError(
                    f"fault parameter {item!r}: use string=, module=, cell=, at=, size="
                )
            params[key] = float(value)
        ints = {k: int(v) for k, v in params.items() if k in {"string", "module", "cell"}}
        return cls(kind, at=params.get("at", 0.0), size=params.get("size"), **ints)
