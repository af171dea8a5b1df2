"""Cell and temperature families as array bindings: per module or across the string.

A family is numbered as its stem is across the whole database: cells 1..4 in one message and
5..8 in the next are positions 1..8, not twice 1..4.
"""

from dataclasses import dataclass, field

from edge.model import FIELDS, Target
from edge.suggest.content import ArrayFamily, Content
from edge.suggest.draft import Binding
from edge.suggest.layout import MAX_MODULES, Split, cells_split, temps_split


@dataclass(frozen=True, slots=True)
class Stem:
    """The numbers a family's name carries across every message of the database."""

    first: int
    last: int

    @property
    def span(self) -> int:
        """How many positions the numbers cover."""
        return self.last - self.first + 1


@dataclass
class Arrays:
    """Array families of a whole database: their stems, splits and the positions bound."""

    stems: dict[tuple[str, str], Stem]
    splits: dict[str, Split] = field(default_factory=dict)
    taken: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)

    def stem(self, array: ArrayFamily) -> Stem:
        """The stem of an array family."""
        return self.stems[(array.family.prefix, array.family.suffix)]

    def is_flat(self, array: ArrayFamily) -> bool:
        """Numbered across the string: more positions than a module has."""
        return self.stem(array).span > FIELDS[Target.MODULE][array.field].array_size

    def claim(self, key: str, low: int, high: int, where: str) -> str | None:
        """Take positions low..high of a field; who has them already, if anyone."""
        for first, last, owner in self.taken.get(key, []):
            if first <= high and low <= last:
                return owner
        self.taken.setdefault(key, []).append((low, high, where))
        return None


def survey(contents: list[Content], comments: tuple[str, ...]) -> Arrays:
    """Stems across messages, and members per module for flat cells and temperatures."""
    stems: dict[tuple[str, str], Stem] = {}
    for array in (a for c in contents for a in c.arrays):
        key, family = (array.family.prefix, array.family.suffix), array.family
        known = stems.get(key, Stem(family.first, family.last))
        stems[key] = Stem(min(known.first, family.first), max(known.last, family.last))
    arrays = Arrays(stems)
    flat = {a.field: arrays.stem(a).span for c in contents for a in c.arrays if arrays.is_flat(a)}
    if "cell_v" in flat:
        arrays.splits["cell_v"] = cells_split(flat["cell_v"], comments)
    if "temp_c" in flat:
        cells = arrays.splits.get("cell_v")
        modules = flat["cell_v"] // cells.per_module if cells else None
        arrays.splits["temp_c"] = temps_split(flat["temp_c"], modules, comments)
    return arrays


def array_bindings(content: Content, arrays: Arrays) -> list[Binding]:
    """A message's cell and temperature families: per module, or flat across the string."""
    bindings = []
    for array in content.arrays:
        family = array.family
        if not family.contiguous or not family.regular:
            note = (
                f"numbers {family.first}..{family.last} have gaps or mixed digits: bind "
                "the runs one by one"
            )
            binding = Binding(array.field, family.template(0), note=note, disabled=True)
        elif arrays.is_flat(array):
            binding = _flat(array, arrays)
        else:
            binding = _per_module(array, arrays.stem(array))
        bindings.append(_claimed(binding, arrays, f"{content.message.name}.{family.prefix}…"))
    return bindings


def _claimed(binding: Binding, arrays: Arrays, where: str) -> Binding:
    """The binding, disabled if another message's family has its positions already."""
    if binding.disabled or binding.index is None:
        return binding
    key = f"{binding.field}/{'flat' if binding.per_module else 'module'}"
    owner = arrays.claim(key, *binding.index, where)
    if owner is None:
        return binding
    note = f"{binding.note}. Its positions are bound to {owner} already: give it an offset"
    return Binding(
        binding.field,
        binding.signal,
        binding.valid,
        binding.index,
        binding.per_module,
        note=note,
        disabled=True,
    )


def _flat(array: ArrayFamily, arrays: Arrays) -> Binding:
    """n counts from 0 over the string; the stem's first number is the template's offset."""
    family, valid, stem = array.family, array.valid, arrays.stem(array)
    split = arrays.splits[array.field]
    per = split.per_module
    note = (
        f"{stem.span} numbered across the string from {stem.first}: n counts from 0, "
        f"module = n // {per} + 1. {split.reason}"
    )
    too_many = (
        per > FIELDS[Target.MODULE][array.field].array_size
        or (stem.span - 1) // per + 1 > MAX_MODULES
    )
    if too_many:
        note = f"{stem.span} members do not fit {MAX_MODULES} modules: split them by hand"
    index = (family.first - stem.first, family.last - stem.first)
    return Binding(
        array.field,
        family.template(stem.first),
        valid.template(stem.first) if valid else None,
        index,
        per,
        note=note,
        disabled=too_many,
    )


def _per_module(array: ArrayFamily, stem: Stem) -> Binding:
    """n is the position in the module from 1; the stem's first number gives the offset."""
    family, valid = array.family, array.valid
    shift = stem.first - 1
    note = f"the database numbers from {stem.first}; n is the position in the module from 1" + (
        f", hence n{shift:+d}" if shift else ""
    )
    return Binding(
        array.field,
        family.template(shift),
        valid.template(shift) if valid else None,
        (family.first - shift, family.last - shift),
        note=note,
    )
