"""Validation of a batch's rows against the site's registry: which rows are stored, which not.

A clean batch (the usual case) is checked in bulk; a batch with any problem is checked row by
row, so that each refused row is named with its field and reason while the others are stored.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter, itemgetter, le
from typing import Any, cast

from app.ingest.asset_map import ModuleAsset, SiteAssets
from app.ingest.parsing import ModuleFields, ParsedBatch, Section, StringFields
from app.ingest.samples import Accepted, CellRanges, module_samples
from app.ingest.schemas import EventRow, Rejection, SystemRow
from app.telemetry.module_block import ModuleSamples
from app.telemetry.schemas import RackSampleRow, SystemSampleRow

_ROW = itemgetter(1)  # of an (index, row) pair
_STRING, _MODULE, _TS, _CELL_V, _TEMP_C = (
    attrgetter(name) for name in ("string", "module", "ts", "cell_v", "temp_c")
)
_MODULE_ID, _CELL_COUNT, _TEMP_COUNT = (
    attrgetter(name) for name in ("module_id", "cell_count", "temp_count")
)


@dataclass
class Validated:
    """The rows worth storing and the rejections, in batch order."""

    modules: ModuleSamples = field(default_factory=ModuleSamples)
    strings: list[RackSampleRow] = field(default_factory=list)
    systems: list[SystemSampleRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    names_unknown_asset: bool = False  # worth asking the registry again: it may be new


def _reject(out: Validated, where: tuple[Section, int], name: str, value: Any, why: str) -> None:
    section, row = where
    out.rejections.append(Rejection(section=section, row=row, field=name, value=value, reason=why))


def _rack_sample(
    row: StringFields, rack_id: int, cells: tuple[float, float] | None
) -> RackSampleRow:
    power = None
    if row.voltage_v is not None and row.current_a is not None:
        power = round(row.voltage_v * row.current_a / 1000, 3)
    status = (1 if row.contactor_fault else 0) | (2 if row.enabled else 0)
    return RackSampleRow(
        rack_id=rack_id,
        ts=row.ts,
        voltage_v=row.voltage_v,
        current_a=row.current_a,
        power_kw=power,
        soc_pct=row.soc_pct,
        soh_pct=row.soh_pct,
        contactor_closed=row.contactor_closed,
        n_mod_connected=row.n_mod_connected,
        n_mod_bypassed=row.n_mod_bypassed,
        insulation_kohm=row.insulation_kohm,
        charge_limit_a=row.charge_limit_a,
        discharge_limit_a=row.discharge_limit_a,
        energy_charged_kwh=row.energy_charged_kwh,
        energy_discharged_kwh=row.energy_discharged_kwh,
        cell_v_min=cells[0] if cells else None,
        cell_v_max=cells[1] if cells else None,
        status_bits=status,
        fault_bits=row.fault_bits,
        disable_reason=row.disable_reason,
        quality=row.quality,
    )


Problem = tuple[str, Any, str]  # field, value, reason
SECTION_ORDER: dict[Section, int] = {
    "assets": -1,  # announcements are applied first
    "modules": 0,
    "strings": 1,
    "systems": 2,
    "events": 3,
}


def _module_problem(row: ModuleFields, asset: ModuleAsset | None) -> Problem | None:
    """Why a parsed module row cannot be stored for this site, or None."""
    if asset is None:
        return (
            "module",
            [row.string, row.module],
            f"string {row.string} has no module {row.module} at this site (neither in its "
            "configuration nor announced by the edge)",
        )
    if len(row.cell_v) != asset.cell_count:
        return (
            "cell_v",
            len(row.cell_v),
            f"{len(row.cell_v)} cell voltages for a {asset.cell_count}-cell module",
        )
    if len(row.temp_c) > asset.temp_count:
        return (
            "temp_c",
            len(row.temp_c),
            f"{len(row.temp_c)} temperatures for a module with {asset.temp_count} sensors",
        )
    return None


def _event_problem(event: EventRow, asset: ModuleAsset | None) -> Problem | None:
    """Why an event's readings cannot be the module's, or None (no readings, or they fit)."""
    if event.cell_v is None and event.temp_c is None:
        return None
    if asset is None:
        return ("cell_v", None, "readings come with a fault of a module this site has")
    cells, temps = len(event.cell_v or ()), len(event.temp_c or ())
    if cells != asset.cell_count:
        return ("cell_v", cells, f"{cells} cell voltages for a {asset.cell_count}-cell module")
    if temps > asset.temp_count:
        return (
            "temp_c",
            temps,
            f"{temps} temperatures for a module with {asset.temp_count} sensors",
        )
    return None


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """The oldest and newest sample time a batch may carry."""

    earliest: datetime
    latest: datetime


def validate_batch(parsed: ParsedBatch, assets: SiteAssets, bounds: TimeBounds) -> Validated:
    """Split parsed rows into storable rows and rejections with row, field and reason."""
    out = Validated(rejections=list(parsed.rejections))
    in_future = _time_check(out, bounds)
    accepted = _clean_modules(parsed.modules, assets, bounds)
    if accepted is None:
        accepted = _modules_row_by_row(out, parsed.modules, assets, in_future)
    out.modules, cell_range = module_samples(accepted)
    _validate_strings(out, parsed.strings, assets, in_future, cell_range)
    _validate_systems(out, parsed.systems, assets.site_id, in_future)
    for index, event in parsed.events:
        if in_future("events", index, event.ts):
            continue
        asset = assets.modules.get((event.string, event.module or 0))
        problem = _event_problem(event, asset)
        if problem is None:
            out.events.append(event)
        else:
            out.names_unknown_asset |= asset is None
            _reject(out, ("events", index), *problem)
    out.rejections.sort(key=lambda r: (SECTION_ORDER[r.section], r.row))
    return out


def _clean_modules(
    rows: list[tuple[int, ModuleFields]], assets: SiteAssets, bounds: TimeBounds
) -> list[Accepted] | None:
    """Every module row with its asset when none has a problem; else None (check row by row).

    Each check is one pass of C-level iterators over the rows: this runs on every batch.
    """
    wire = list(map(_ROW, rows))
    found = list(map(assets.modules.get, zip(map(_STRING, wire), map(_MODULE, wire), strict=True)))
    known = cast(list[ModuleAsset], list(filter(None, found)))
    if len(known) != len(wire):
        return None  # a module the map does not know
    stamps = list(map(_TS, wire))
    newest = max(stamps, default=bounds.latest)
    if newest > bounds.latest or min(stamps, default=newest) < bounds.earliest:
        return None
    # A module twice at the same time: with one time per batch (the usual), ids suffice.
    # (min and max compare times without hashing them, which costs more per datetime.)
    ids = list(map(_MODULE_ID, known))
    keys = ids if min(stamps, default=newest) == newest else list(zip(ids, stamps, strict=True))
    if len(set(keys)) != len(wire):
        return None
    cells_fit = list(map(len, map(_CELL_V, wire))) == list(map(_CELL_COUNT, known))
    sensors = map(len, map(_TEMP_C, wire))
    if not (cells_fit and all(map(le, sensors, map(_TEMP_COUNT, known)))):
        return None
    return list(zip(wire, known, strict=True))


def _modules_row_by_row(
    out: Validated,
    rows: list[tuple[int, ModuleFields]],
    assets: SiteAssets,
    in_future: Callable[[Section, int, datetime], bool],
) -> list[Accepted]:
    """The storable module rows; each other row is recorded with its field and reason."""
    accepted: list[Accepted] = []
    seen: set[tuple[int, datetime]] = set()
    for index, row in rows:
        if in_future("modules", index, row.ts):
            continue
        asset = assets.modules.get((row.string, row.module))
        problem = _module_problem(row, asset)
        if problem is None and asset is not None and (asset.module_id, row.ts) in seen:
            problem = (
                "ts",
                row.ts.isoformat(),
                "a second sample for the same module and time in this batch",
            )
        if problem is not None or asset is None:
            out.names_unknown_asset |= asset is None
            _reject(out, ("modules", index), *(problem or ("module", None, "unknown module")))
            continue
        seen.add((asset.module_id, row.ts))
        accepted.append((row, asset))
    return accepted


def _validate_strings(
    out: Validated,
    strings: list[tuple[int, StringFields]],
    assets: SiteAssets,
    in_future: Callable[[Section, int, datetime], bool],
    cell_range: CellRanges,
) -> None:
    seen: set[tuple[int, datetime]] = set()
    for index, row in strings:
        rack_id = assets.racks.get(row.string)
        if in_future("strings", index, row.ts):
            continue
        if rack_id is None:
            out.names_unknown_asset = True
            _reject(
                out,
                ("strings", index),
                "string",
                row.string,
                f"this site has no string {row.string}",
            )
        elif (rack_id, row.ts) in seen:
            _reject(
                out,
                ("strings", index),
                "ts",
                row.ts.isoformat(),
                "a second sample for the same string and time in this batch",
            )
        else:
            seen.add((rack_id, row.ts))
            out.strings.append(_rack_sample(row, rack_id, cell_range.get((rack_id, row.ts))))


def _system_sample(row: SystemRow, site_id: int) -> SystemSampleRow:
    """A system row in storage form; power from voltage x current when the BMS gives none."""
    power = row.power_kw
    if power is None and row.voltage_v is not None and row.current_a is not None:
        power = round(row.voltage_v * row.current_a / 1000, 3)
    return SystemSampleRow(
        site_id=site_id,
        ts=row.ts,
        soc_pct=row.soc_pct,
        soh_pct=row.soh_pct,
        voltage_v=row.voltage_v,
        current_a=row.current_a,
        power_kw=power,
        charge_limit_a=row.charge_limit_a,
        discharge_limit_a=row.discharge_limit_a,
        charge_limit_kw=row.charge_limit_kw,
        discharge_limit_kw=row.discharge_limit_kw,
        quality=row.quality,
    )


def _validate_systems(
    out: Validated,
    systems: list[tuple[int, SystemRow]],
    site_id: int,
    in_future: Callable[[Section, int, datetime], bool],
) -> None:
    """The site's system samples: one per time, within the accepted time window."""
    seen: set[datetime] = set()
    for index, row in systems:
        if in_future("systems", index, row.ts):
            continue
        if row.ts in seen:
            _reject(
                out,
                ("systems", index),
                "ts",
                row.ts.isoformat(),
                "a second system sample for the same time in this batch",
            )
            continue
        seen.add(row.ts)
        out.systems.append(_system_sample(row, site_id))


def _time_check(out: Validated, bounds: TimeBounds) -> Callable[[Section, int, datetime], bool]:
    """A check that refuses (and records) a row whose time is outside the bounds."""

    def out_of_bounds(section: Section, index: int, ts: datetime) -> bool:
        latest, earliest = bounds.latest.isoformat(), bounds.earliest.isoformat()
        if ts > bounds.latest:
            why = f"more than the allowed clock skew in the future (latest {latest})"
        elif ts < bounds.earliest:
            why = (
                f"older than the oldest sample time stored (earliest {earliest}, "
                "RIDETHROUGH_INGEST_MAX_PAST_DAYS)"
            )
        else:
            return False
        _reject(out, (section, index), "ts", ts.isoformat(), why)
        return True

    return out_of_bounds
