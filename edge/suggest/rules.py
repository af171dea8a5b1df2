"""Which model field a signal looks like, by name, unit and size: a declarative table."""

import re
from dataclasses import dataclass

from edge.model import FIELDS, Kind, Target, canonical_unit, unit_factor
from edge.suggest.signals import SignalInfo

MODULE, STRING = frozenset({Target.MODULE}), frozenset({Target.STRING})
SYSTEM = frozenset({Target.SYSTEM})
BOTH = MODULE | STRING
ALL = BOTH | SYSTEM
PACK = STRING | SYSTEM


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A model field and what its signals are called; the first matching rule wins."""

    field: str
    targets: frozenset[Target]
    name: re.Pattern[str]
    one_bit: bool = False  # a 0/1 signal (else wider than one bit)


def _rule(field: str, targets: frozenset[Target], name: str, one_bit: bool = False) -> FieldRule:
    return FieldRule(field, targets, re.compile(name, re.IGNORECASE), one_bit)


# Order matters: specific names before general ones (a discharge limit is also a current).
RULES = (
    _rule("soc_pct", ALL, r"soc|state.?of.?charge"),
    _rule("soh_pct", ALL, r"soh|state.?of.?health"),
    _rule("discharge_limit_kw", SYSTEM, r"(dis|dchg|dsg).*pow|pow.*(dis|dchg|dsg)"),
    _rule("charge_limit_kw", SYSTEM, r"(cha|chg).*pow|pow.*(cha|chg)"),
    _rule("discharge_limit_a", PACK, r"(dis|dchg|dsg).*lim|lim.*(dis|dchg|dsg)"),
    _rule("charge_limit_a", PACK, r"(cha|chg).*lim|lim.*(cha|chg)"),
    _rule("power_kw", SYSTEM, r"pow"),
    _rule("current_a", ALL, r"curr|amps?$|^(str|mod|pack|bat|string|module|sys)?_?i$"),
    _rule("voltage_v", ALL, r"volt|^(str|mod|pack|bat|string|module|sys)?_?v$"),
    _rule("insulation_kohm", STRING, r"insul|isol|riso"),
    _rule("energy_discharged_kwh", STRING, r"(dis|dchg|dsg).*energ|energ.*(dis|dchg|dsg)"),
    _rule("energy_charged_kwh", STRING, r"energ"),
    _rule("n_mod_connected", STRING, r"n_?mod.*conn"),
    _rule("n_mod_bypassed", STRING, r"n_?mod.*bypass"),
    _rule("disable_reason", STRING, r"dis.*(rsn|reason)"),
    _rule("contactor_fault", STRING, r"con.*(fail|fault|weld)", one_bit=True),
    _rule("contactor_closed", STRING, r"contactor|closed|^con$", one_bit=True),
    _rule("enabled", STRING, r"enabl", one_bit=True),
    _rule("bypassed", MODULE, r"bypass", one_bit=True),
    _rule("heartbeat", STRING, r"heart|alive|life|counter|cnt"),
    _rule("alive", MODULE, r"heart|alive|life|counter|cnt"),
    _rule("balancing", MODULE, r"balanc"),
    _rule("fault_bits", BOTH, r"fault|alarm|error|prot"),
    _rule("status_bits", MODULE, r"status|state"),
)
FLAG_NAME = re.compile(
    r"flag|fault|alarm|err|warn|fail|over|under|timeout|lost|short|open|"
    r"weld|low|high",
    re.IGNORECASE,
)
FLAG_MESSAGE = re.compile(r"flag|fault|alarm|error|warn|protect", re.IGNORECASE)


def field_for(signal: SignalInfo, target: Target, name: str | None = None) -> str | None:
    """The model field this signal most likely carries (name defaults to the signal's)."""
    for rule in RULES:
        if target not in rule.targets or not rule.name.search(name or signal.name):
            continue
        if rule.one_bit != (signal.length == 1):
            continue
        spec = FIELDS[target][rule.field]
        if spec.kind is Kind.MEASURE and not _unit_fits(signal.unit, spec.unit):
            continue
        if spec.kind is not Kind.MEASURE and canonical_unit(signal.unit):
            continue  # a counter or bit word with a unit is something else
        return rule.field
    return None


def _unit_fits(unit: str, wanted: str) -> bool:
    """Whether the loader can convert this unit into the field's (a missing unit cannot be)."""
    return bool(unit) and unit_factor(canonical_unit(unit), wanted) is not None


def is_flag(signal: SignalInfo, message: str) -> bool:
    """Whether a one-bit signal looks like a fault flag."""
    return signal.length == 1 and bool(
        FLAG_NAME.search(signal.name) or FLAG_MESSAGE.search(message)
    )


def positive_direction(signal: SignalInfo) -> str | None:
    """'charge' or 'discharge' when the signal's comment says which way is positive."""
    text = signal.comment.lower()
    match = re.search(r"positive\W+(?:=|is|means|when|while|for)?\W*(dis)?charg", text)
    if match is None:
        match = re.search(r"(dis)?charg\w*\W+(?:is\W+)?positive", text)
    if match is None:
        return None
    return "discharge" if match.group(1) else "charge"
