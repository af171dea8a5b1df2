"""How a cell's ageing is written (`--age leakage:string=1,module=2,cell=3,from_day=5,rate=5`,
a site file or tests): plain data that imports nothing of the simulator, so a site file can be
checked without loading the simulated plant (edge/sim/ageing.py applies it)."""

from dataclasses import dataclass
from enum import StrEnum


class AgeingKind(StrEnum):
    """How a cell ages; `rate` is per day after the onset, in the unit the kind names."""

    LEAKAGE = "leakage"  # self-discharge current grows by `rate` mA a day
    CAPACITY = "capacity"  # capacity falls by `rate` % of its original a day
    RESISTANCE = "resistance"  # internal resistance grows by `rate` % of its original a day


MIN_CAPACITY_FACTOR = 0.05  # a cell never fades to nothing: the model divides by capacity


@dataclass(frozen=True)
class Ageing:
    """One cell ageing one way from `from_day` (days after the simulation starts)."""

    kind: AgeingKind
    string: int
    module: int
    cell: int
    from_day: float
    rate: float

    def __post_init__(self) -> None:
        if self.rate < 0:
            raise ValueError(f"ageing {self.kind}: rate must be >= 0, got {self.rate}")
        if self.from_day < 0:
            raise ValueError(f"ageing {self.kind}: from_day must be >= 0, got {self.from_day}")

    @classmethod
    def parse(cls, text: str) -> "Ageing":
        """Parse 'kind:string=,module=,cell=,from_day=,rate='; ValueError names the bad part."""
        kind_text, _, rest = text.partition(":")
        try:
            kind = AgeingKind(kind_text)
        except ValueError:
            choices = ", ".join(k.value for k in AgeingKind)
            raise ValueError(f"unknown ageing {kind_text!r} (choose from {choices})") from None
        keys = ("string", "module", "cell", "from_day", "rate")
        params: dict[str, float] = {}
        for item in filter(None, rest.split(",")):
            key, sep, value = item.partition("=")
            if not sep or key not in keys:
                raise ValueError(f"ageing parameter {item!r}: use {'=, '.join(keys)}=")
            try:
                params[key] = float(value)
            except ValueError:
                raise ValueError(f"ageing parameter {key}: {value!r} is not a number") from None
        missing = [k for k in keys if k not in params]
        if missing:
            raise ValueError(f"ageing {kind}: missing {', '.join(missing)}")
        place = {k: int(params[k]) for k in ("string", "module", "cell")}
        return cls(kind, from_day=params["from_day"], rate=params["rate"], **place)

    def days_aged(self, day: float) -> float:
        """Days of ageing by simulated day `day` (0 before the onset)."""
        return max(0.0, day - self.from_day)
