"""From request body to parsed rows: the compiled strict path, else row-by-row validation.

Both paths give the same ParsedBatch; the slow one also lists each refused row with its field
and reason, while the good rows of the same batch go on to be stored.
"""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.ingest.fast_decode import FastModuleRow, FastStringRow, decode_strict
from app.ingest.schemas import (
    CELL_V_RANGE,
    TEMP_C_RANGE,
    AssetRow,
    Batch,
    EventRow,
    ModuleRow,
    Rejection,
    StringRow,
    SystemRow,
    counters_problem,
)

Section = Literal["modules", "strings", "events", "assets", "systems"]
_CELL_V = attrgetter("cell_v")
ModuleFields = ModuleRow | FastModuleRow
StringFields = StringRow | FastStringRow
RowT = TypeVar("RowT", bound=BaseModel)


class EnvelopeError(Exception):
    """The body as a whole is unusable: not JSON (400) or a bad envelope (422)."""

    def __init__(self, status: int, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


@dataclass(frozen=True)
class Envelope:
    """Who sent a batch, its place in the edge's sequence, and the edge's counters."""

    edge_id: str
    seq: int
    site: str
    created_at: datetime
    software_version: str
    counters: dict[str, Any]

    @classmethod
    def of(cls, batch: Any) -> "Envelope":
        """The envelope fields of a decoded batch (strict or lenient)."""
        return cls(
            batch.edge_id,
            batch.seq,
            batch.site,
            batch.created_at,
            batch.software_version,
            batch.counters,
        )


@dataclass
class ParsedBatch:
    """The envelope and every row that passed the wire schema, with its index in the batch."""

    envelope: Envelope
    received: dict[Section, int]
    modules: list[tuple[int, ModuleFields]] = field(default_factory=list)
    strings: list[tuple[int, StringFields]] = field(default_factory=list)
    events: list[tuple[int, EventRow]] = field(default_factory=list)
    assets: list[tuple[int, AssetRow]] = field(default_factory=list)
    systems: list[tuple[int, SystemRow]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {
    ModuleRow: TypeAdapter(list[ModuleRow]),
    StringRow: TypeAdapter(list[StringRow]),
    EventRow: TypeAdapter(list[EventRow]),
    AssetRow: TypeAdapter(list[AssetRow]),
    SystemRow: TypeAdapter(list[SystemRow]),
}


def parse_section(
    model: type[RowT], section: Section, rows: list[Any], rejections: list[Rejection]
) -> list[tuple[int, RowT]]:
    """Validate a whole section in one call; on errors, report them per row and keep the rest."""
    adapter = _ADAPTERS[model]
    try:
        return list(enumerate(adapter.validate_python(rows)))
    except ValidationError as exc:
        bad: set[int] = set()
        for error in exc.errors():
            index, *path = error["loc"]
            bad.add(int(index))
            rejections.append(
                Rejection(
                    section=section,
                    row=int(index),
                    # A row that is not an object at all has no field: name the row itself.
                    field=".".join(str(p) for p in path) or "(row)",
                    value=error.get("input"),
                    reason=error["msg"],
                )
            )
    good = [i for i in range(len(rows)) if i not in bad]
    return list(zip(good, adapter.validate_python([rows[i] for i in good]), strict=True))


Problem = tuple[str, Any, str]  # field, value, reason


def array_problem(
    name: str, values: Sequence[float | None], bounds: tuple[float, float]
) -> Problem | None:
    """The first element outside its bounds or not finite, named by index (cell_v.15); null
    elements (cells the BMS flagged invalid) are allowed, but not all of them."""
    low, high = bounds
    known = [v for v in values if v is not None]
    if values and not known:
        return name, None, "every element is null: a sample needs at least one known value"
    if all(map(math.isfinite, known)) and (not known or low <= min(known) <= max(known) <= high):
        return None
    for i, value in enumerate(values):
        if value is None:
            continue
        if not math.isfinite(value):
            return f"{name}.{i}", value, "Input should be a finite number"
        if value < low:
            return f"{name}.{i}", value, f"Input should be greater than or equal to {low:g}"
        if value > high:
            return f"{name}.{i}", value, f"Input should be less than or equal to {high:g}"
    return None


def _cells_in_bounds(
    rows: list[tuple[int, ModuleRow]], rejections: list[Rejection]
) -> list[tuple[int, ModuleRow]]:
    """Rows whose every cell voltage and temperature is finite and within its range."""
    kept = []
    for index, row in rows:
        problem = array_problem("cell_v", row.cell_v, CELL_V_RANGE) or array_problem(
            "temp_c", row.temp_c, TEMP_C_RANGE
        )
        if problem is None:
            kept.append((index, row))
            continue
        name, value, reason = problem
        rejections.append(
            Rejection(section="modules", row=index, field=name, value=value, reason=reason)
        )
    return kept


def parse_batch(body: bytes) -> ParsedBatch:
    """The batch's rows, parsed; raises EnvelopeError when the body cannot be read as a batch."""
    strict = parse_strict(body)
    return strict if strict is not None else parse_row_by_row(body)


def parse_strict(body: bytes) -> ParsedBatch | None:
    """The parsed batch when every module and string row is valid as sent, else None."""
    batch = decode_strict(body)
    if batch is None:
        return None
    if counters_problem(batch.counters) is not None:
        return None  # the row-by-row path names the counter
    if any(
        None in cells and cells.count(None) == len(cells) for cells in map(_CELL_V, batch.modules)
    ):
        return None  # a row whose every cell is null: the row-by-row path refuses it
    parsed = ParsedBatch(
        Envelope.of(batch),
        _received(batch),
        modules=list(enumerate(batch.modules)),
        strings=list(enumerate(batch.strings)),
    )
    parsed.events = parse_section(EventRow, "events", batch.events, parsed.rejections)
    parsed.assets = parse_section(AssetRow, "assets", batch.assets, parsed.rejections)
    parsed.systems = parse_section(SystemRow, "systems", batch.systems, parsed.rejections)
    return parsed


def _received(batch: Any) -> dict[Section, int]:
    """How many rows each section of a decoded batch (strict or lenient) holds."""
    return {
        "modules": len(batch.modules),
        "strings": len(batch.strings),
        "events": len(batch.events),
        "assets": len(batch.assets),
        "systems": len(batch.systems),
    }


def _lenient_json(body: bytes) -> Any:
    """Parse JSON that strict parsers refuse only for NaN/Infinity literals, so such values are
    refused row by row (with the field named) instead of losing the whole batch."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnvelopeError(400, f"body is not valid JSON: {exc}", []) from exc
    except RecursionError as exc:
        raise EnvelopeError(400, "body is not a batch: JSON nested too deeply", []) from exc


def parse_row_by_row(body: bytes) -> ParsedBatch:
    """The batch read leniently, each row validated on its own; bad rows become rejections."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raw = _lenient_json(body)
    try:
        batch = Batch.model_validate(raw)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise EnvelopeError(422, "the batch envelope is invalid", details) from exc
    problem = counters_problem(batch.counters)
    if problem is not None:
        field_name, reason = problem
        details = [{"field": field_name, "message": reason}]
        raise EnvelopeError(422, "the batch envelope is invalid", details)
    parsed = ParsedBatch(Envelope.of(batch), _received(batch))
    modules = parse_section(ModuleRow, "modules", batch.modules, parsed.rejections)
    parsed.modules = list(_cells_in_bounds(modules, parsed.rejections))
    parsed.strings = list(parse_section(StringRow, "strings", batch.strings, parsed.rejections))
    parsed.events = parse_section(EventRow, "events", batch.events, parsed.rejections)
    parsed.assets = parse_section(AssetRow, "assets", batch.assets, parsed.rejections)
    parsed.systems = parse_section(SystemRow, "systems", batch.systems, parsed.rejections)
    return parsed
