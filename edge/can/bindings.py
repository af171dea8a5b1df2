"""Mapping bindings resolved against one database message: concrete signals, units and assets."""

from dataclasses import dataclass, field
from typing import Any

from edge.can.codec import decimals
from edge.can.mapping import FieldBinding, FlagBinding
from edge.can.templates import TemplateError, expand
from edge.model import FIELDS, FieldSpec, Kind, Target, canonical_unit, unit_factor

MAX_FLAT_MODULE = 32
MAX_FLAGS = 64


@dataclass(frozen=True, slots=True)
class ResolvedField:
    """One concrete signal bound to one model field (and array index)."""

    field: str
    index: int | None  # 0-based position in an array field
    signal: str
    valid: str | None
    factor: float  # unit conversion into the model's unit, negative to flip a vendor's sign
    unit: str
    low: float
    high: float
    decimals: int  # rounding that removes float noise from scaling (-1: none)
    string: int | None = None  # the string, when the signal says it (not the frame's address)
    module: int | None = None  # the module, when the signal says it (flat cell numbering)
    bit: int | None = None  # a one-bit fault flag: its bit in the asset's fault word

    @property
    def label(self) -> str:
        """The field as people write it: cell_v[3] for the fourth cell, s2.m5.cell_v[0] flat."""
        name = self.field if self.index is None else f"{self.field}[{self.index}]"
        if self.bit is not None:
            name = f"fault_bits.bit{self.bit}"
        prefix = "".join(
            f"{tag}{number}." for tag, number in (("s", self.string), ("m", self.module)) if number
        )
        return prefix + name


@dataclass
class FlagBits:
    """Bit numbers handed to one-bit fault flags, per target, and the codes they carry."""

    names: dict[Target, dict[int, str]] = field(default_factory=dict)

    def assign(self, target: Target, code: str) -> int:
        """The bit for this code (the same code always gets the same bit)."""
        names = self.names.setdefault(target, {})
        for bit, known in names.items():
            if known == code:
                return bit
        names[len(names)] = code
        return len(names) - 1


def resolve_flag(
    message: Any,
    target: Target,
    flag: FlagBinding,
    bits: FlagBits,
    *,
    string: int | None,
    problems: list[str],
) -> ResolvedField | None:
    """A one-bit fault flag as a bit of the target's fault word."""
    name = expand(flag.signal, s=string) if string is not None else flag.signal
    signal = next((s for s in message.signals if s.name == name), None)
    where = f"message {message.name}, flag {flag.code!r}"
    if signal is None:
        problems.append(f"{where}: signal {name!r} does not exist in message {message.name}")
        return None
    if signal.length != 1:
        problems.append(
            f"{where}: signal {name!r} is {signal.length} bits; a flag is one bit "
            "(bind a bit word as fault_bits instead)"
        )
        return None
    bit = bits.assign(target, flag.code)
    if bit >= MAX_FLAGS:
        problems.append(f"{where}: more than {MAX_FLAGS} distinct fault flags for {target}")
        return None
    return ResolvedField("fault_bits", None, name, None, 1.0, "", 0, 1, 0, string=string, bit=bit)


def resolve_binding(
    message: Any,
    target: Target,
    binding: FieldBinding,
    *,
    string: int | None,
    problems: list[str],
) -> list[ResolvedField]:
    """Every concrete signal of one binding (one per index), or [] with the problems listed."""
    spec = FIELDS[target].get(binding.field)
    where = f"message {message.name}, field {binding.field!r}"
    if spec is None:
        known = ", ".join(FIELDS[target])
        problems.append(f"{where}: not a {target} field (fields: {known})")
        return []
    if (spec.array_size > 0) != (binding.index is not None):
        kind = "an array: give index = [first, last]" if spec.array_size else "not an array"
        problems.append(f"{where}: the field is {kind}")
        return []
    sign = _sign(spec, binding, where, problems)
    resolved = []
    for n, position in _positions(spec, binding, target, where, problems):
        # Resolved even without a sign, so that every other problem is listed too.
        item = _resolve_one(
            message,
            spec,
            binding,
            n=n,
            string=string,
            position=position,
            sign=sign or 1,
            where=where,
            problems=problems,
        )
        if item is not None:
            resolved.append(item)
    return resolved if sign is not None else []


def _positions(
    spec: FieldSpec, binding: FieldBinding, target: Target, where: str, problems: list[str]
) -> list[tuple[int | None, tuple[int | None, int | None]]]:
    """(n, (module, 0-based index)) of each member: module None means the frame's address."""
    if binding.index is None:
        return [(None, (None, None))]
    first, last = binding.index
    per = binding.per_module
    if per is None:
        inside = [n for n in range(first, last + 1) if 1 <= n <= spec.array_size]
        if len(inside) < last - first + 1:
            problems.append(
                f"{where}: index {list(binding.index)} is outside "
                f"1..{spec.array_size} (n is the position in the module, from 1; "
                "for numbering across a string add per_module = N)"
            )
        return [(n, (None, n - 1)) for n in inside]
    if target is not Target.MODULE or per > spec.array_size or first < 0:
        problems.append(
            f"{where}: per_module = {per} with index {list(binding.index)} needs a "
            f"module message, per_module <= {spec.array_size} and n from 0 "
            "upwards"
        )
        return []
    if last // per + 1 > MAX_FLAT_MODULE:
        problems.append(
            f"{where}: index {last} is in module {last // per + 1}; "
            f"at most {MAX_FLAT_MODULE} modules per string"
        )
        return []
    return [(n, (n // per + 1, n % per)) for n in range(first, last + 1)]


def _resolve_one(
    message: Any,
    spec: FieldSpec,
    binding: FieldBinding,
    *,
    n: int | None,
    string: int | None,
    position: tuple[int | None, int | None],
    sign: int,
    where: str,
    problems: list[str],
) -> ResolvedField | None:
    names = _names(binding, n=n, string=string, where=where, problems=problems)
    if names is None:
        return None
    name, valid = names
    signals = {s.name: s for s in message.signals}
    missing = [s for s in (name, valid) if s is not None and s not in signals]
    for signal in missing:
        problems.append(f"{where}: signal {signal!r} does not exist in message {message.name}")
    if missing:
        return None
    factor = _unit_factor(spec, binding, signals[name].unit, f"{where}, signal {name}", problems)
    if factor is None:
        return None
    factor *= sign
    signal = signals[name]
    # Integer signals carry as many decimals as their scale; IEEE-float signals are not rounded.
    places = (
        -1
        if signal.is_float
        else decimals(float(signal.scale) * factor, float(signal.offset) * factor)
    )
    module, index = position
    return ResolvedField(
        binding.field,
        index,
        name,
        valid,
        factor,
        canonical_unit(signal.unit),
        spec.low,
        spec.high,
        places,
        string,
        module,
    )


def _names(
    binding: FieldBinding, *, n: int | None, string: int | None, where: str, problems: list[str]
) -> tuple[str, str | None] | None:
    values = {k: v for k, v in (("n", n), ("s", string)) if v is not None}
    try:
        name = expand(binding.signal, **values)
        valid = None if binding.valid is None else expand(binding.valid, **values)
    except TemplateError as exc:
        problems.append(f"{where}: {exc}")
        return None
    return name, valid


def _unit_factor(
    spec: FieldSpec, binding: FieldBinding, dbc_unit: str | None, where: str, problems: list[str]
) -> float | None:
    unit = canonical_unit(dbc_unit)
    if binding.unit is not None and canonical_unit(binding.unit) != unit:
        problems.append(
            f"{where}: unit mismatch: the mapping expects {binding.unit!r}, the DBC says {unit!r}"
        )
        return None
    if spec.kind is not Kind.MEASURE:
        if unit:
            problems.append(
                f"{where}: unit mismatch: the field is dimensionless, the DBC says {unit!r}"
            )
            return None
        return 1.0
    factor = unit_factor(unit, spec.unit)
    if factor is None:
        problems.append(
            f"{where}: unit mismatch: the DBC says {unit!r}, the field needs "
            f"{spec.unit!r} (no known conversion)"
        )
    return factor


def _sign(spec: FieldSpec, binding: FieldBinding, where: str, problems: list[str]) -> int | None:
    """-1 when the BMS counts charge as positive (the model counts discharge), else 1."""
    if binding.positive is not None and not spec.directed:
        problems.append(f"{where}: positive applies to currents only; this field has no direction")
        return None
    # A current read the wrong way round looks plausible everywhere, so it is never assumed.
    if binding.positive is None and spec.directed:
        problems.append(
            f"{where}: say which way the BMS counts this current as positive: "
            'positive = "discharge" (SunSpec, as the model) or "charge"'
        )
        return None
    return -1 if binding.positive == "charge" else 1
