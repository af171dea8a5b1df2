"""Row-by-row validation of a batch against the wire schema and the site's registry."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.ingest.parsing import ModuleFields, ParsedBatch, Section, StringFields
from app.ingest.schemas import EventRow, Rejection
from app.telemetry.schemas import QUALITY_BYPASSED, ModuleSampleRow, RackSampleRow


@dataclass(frozen=True, slots=True)
class ModuleAsset:
    """What the registry knows about one module."""

    module_id: int
    rack_id: int
    cell_count: int
    temp_count: int


@dataclass(frozen=True)
class SiteAssets:
    """A site's strings and modules, addressed as the edge addresses them."""

    site_id: int
    racks: dict[int, int]  # string index -> rack id
    modules: dict[tuple[int, int], ModuleAsset]  # (string index, position) -> module


@dataclass
class Validated:
    """The rows worth storing and the rejections, in batch order."""

    modules: list[ModuleSampleRow] = field(default_factory=list)
    strings: list[RackSampleRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def _reject(out: Validated, where: tuple[Section, int], name: str, value: Any, why: str) -> None:
    section, row = where
    out.rejections.append(Rejection(section=section, row=row, field=name, value=value, reason=why))


def _module_sample(row: ModuleFields, asset: ModuleAsset) -> ModuleSampleRow:
    cells = row.cell_v
    low, high = min(cells), max(cells)
    return ModuleSampleRow(
        module_id=asset.module_id,
        ts=row.ts,
        soc_pct=row.soc_pct,
        soh_pct=row.soh_pct,
        current_a=row.current_a,
        voltage_v=row.voltage_v,
        cell_v=cells,
        cell_v_min=low,
        cell_v_max=high,
        cell_v_avg=round(sum(cells) / len(cells), 4),
        cell_v_min_idx=cells.index(low),
        cell_v_max_idx=cells.index(high),
        temp_c=row.temp_c,
        temp_c_max=max(row.temp_c) if row.temp_c else None,
        balancing=row.balancing,
        status_bits=row.status_bits,
        fault_bits=row.fault_bits,
        quality=row.quality | (QUALITY_BYPASSED if row.bypassed else 0),
    )


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


Problem = tuple[str, Any, str]
SECTION_ORDER: dict[Section, int] = {
    "modules": 0,
    "strings": 1,
    "events": 2,
}  # field, value, reason


def _module_problem(row: ModuleFields, asset: ModuleAsset | None) -> Problem | None:
    """Why a parsed module row cannot be stored for this site, or None."""
    if asset is None:
        return (
            "module",
            [row.string, row.module],
            f"string {row.string} has no module {row.module} at this site",
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


def validate_batch(parsed: ParsedBatch, assets: SiteAssets, latest_allowed: datetime) -> Validated:
    """Split parsed rows into storable rows and rejections with row, field and reason."""
    out = Validated(rejections=list(parsed.rejections))
    in_future = _future_check(out, latest_allowed)
    cell_range: dict[tuple[int, datetime], tuple[float, float]] = {}
    seen: set[tuple[int, datetime]] = set()
    for index, row in parsed.modules:
        ts = row.ts
        if in_future("modules", index, ts):
            continue
        asset = assets.modules.get((row.string, row.module))
        problem = _module_problem(row, asset)
        key = (asset.module_id, ts) if asset is not None else None
        if problem is None and key in seen:
            problem = (
                "ts",
                ts.isoformat(),
                "a second sample for the same module and time in this batch",
            )
        if problem is not None or asset is None or key is None:
            _reject(out, ("modules", index), *(problem or ("module", None, "unknown module")))
            continue
        seen.add(key)
        sample = _module_sample(row, asset)
        out.modules.append(sample)
        rack_key = (asset.rack_id, ts)
        low, high = cell_range.get(rack_key, (10.0, 0.0))
        cell_range[rack_key] = (min(low, sample.cell_v_min), max(high, sample.cell_v_max))
    _validate_strings(out, parsed.strings, assets, in_future, cell_range)
    for index, event in parsed.events:
        if not in_future("events", index, event.ts):
            out.events.append(event)
    out.rejections.sort(key=lambda r: (SECTION_ORDER[r.section], r.row))
    return out


def _validate_strings(
    out: Validated,
    strings: list[tuple[int, StringFields]],
    assets: SiteAssets,
    in_future: Callable[[Section, int, datetime], bool],
    cell_range: dict[tuple[int, datetime], tuple[float, float]],
) -> None:
    seen: set[tuple[int, datetime]] = set()
    for index, row in strings:
        rack_id = assets.racks.get(row.string)
        if in_future("strings", index, row.ts):
            continue
        if rack_id is None:
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


def _future_check(out: Validated, latest: datetime) -> Callable[[Section, int, datetime], bool]:
    def in_future(section: Section, index: int, ts: datetime) -> bool:
        if ts <= latest:
            return False
        _reject(
            out,
            (section, index),
            "ts",
            ts.isoformat(),
            f"more than the allowed clock skew in the future (latest {latest.isoformat()})",
        )
        return True

    return in_future
