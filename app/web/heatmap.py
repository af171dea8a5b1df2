"""The site heatmap: strings by modules, one metric at a time, shaded on a calm grey-blue ramp.

Shading shows relative value only; abnormal modules (an alarm, stale data, bypassed) get a
marker shape and text instead of a colour of their own, so colour keeps meaning "alarm".
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from statistics import fmean

from app.telemetry.latest import ModuleState
from app.telemetry.schemas import QUALITY_BYPASSED

STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Metric:
    """A heatmap metric: label, unit, display format, and how to read it from a module row."""

    label: str
    unit: str
    fmt: str
    read: Callable[[ModuleState, float], float | None]
    centred: bool = False  # shade by distance from zero, both ways


def _field(name: str) -> Callable[[ModuleState, float], float | None]:
    read = attrgetter(name)
    return lambda m, mean: read(m)


def _deviation(m: ModuleState, mean: float) -> float | None:
    return None if m.cell_v_avg is None else (m.cell_v_avg - mean) * 1000


METRICS = {
    "soc": Metric("SoC", "%", "%.1f", _field("soc_pct")),
    "spread": Metric("Cell spread", "mV", "%.0f", _field("spread_mv")),
    "deviation": Metric("Deviation from site mean", "mV", "%+.1f", _deviation, centred=True),
    "temp": Metric("Max temperature", "°C", "%.1f", _field("temp_c_max")),
    "soh": Metric("SoH", "%", "%.1f", _field("soh_pct")),
}


@dataclass(frozen=True, slots=True)
class Cell:
    """One module in the grid."""

    position: int
    module_id: int
    text: str  # the value as shown on hover and to screen readers
    level: float | None  # 0..1 shade (distance from 0 on a centred metric), None without data
    marks: str  # space-separated CSS classes: alarm-N, stale, bypassed, below (centred, < 0)
    notes: str  # the abnormal marks in words, for the tooltip


@dataclass(frozen=True)
class Heatmap:
    """The grid, row by string, and the metric's range for the legend."""

    metric: Metric
    rows: list[tuple[int, list[Cell]]]
    low: float | None
    high: float | None


PRIORITY_WORDS = {1: "critical", 2: "high", 3: "medium", 4: "low"}


def _marks(module: ModuleState, alarm: int | None, now: datetime) -> tuple[str, str]:
    """The module's abnormal marks as CSS classes and in words."""
    marks, words = [], []
    if alarm is not None:
        marks.append(f"alarm-{alarm}")
        words.append(f"{PRIORITY_WORDS.get(alarm, 'an')}-priority alarm")
    if module.ts is None or now - module.ts > STALE_AFTER:
        marks.append("stale")
        words.append("stale data")
    if module.quality and module.quality & QUALITY_BYPASSED:
        marks.append("bypassed")
        words.append("bypassed")
    return " ".join(marks), ", ".join(words)


def _shade(value: float | None, low: float | None, span: float | None, centred: bool) -> float:
    """0..1: position in the range, or on a centred metric the distance from zero."""
    if value is None or low is None or not span:
        return 0.5
    if centred:
        return abs(value) / (span / 2)
    return (value - low) / span


def build_heatmap(
    modules: list[ModuleState], key: str, alarms: dict[int, int], now: datetime
) -> Heatmap:
    """Shade every module by one metric; `alarms` maps module id to its most urgent priority."""
    metric = METRICS[key]
    averages = [m.cell_v_avg for m in modules if m.cell_v_avg is not None]
    mean = fmean(averages) if averages else 0.0
    values = [metric.read(m, mean) for m in modules]
    present = [v for v in values if v is not None]
    low, high = (min(present), max(present)) if present else (None, None)
    if metric.centred and present:
        reach = max(abs(v) for v in present) or 1.0
        low, high = -reach, reach
    span = (high - low) if low is not None and high is not None and high > low else None
    rows: dict[int, list[Cell]] = {}
    for module, value in zip(modules, values, strict=True):
        level = None if value is None else _shade(value, low, span, metric.centred)
        text = "no data" if value is None else f"{metric.fmt % value} {metric.unit}"
        marks, notes = _marks(module, alarms.get(module.module_id), now)
        if metric.centred and value is not None and value < 0:
            marks = f"{marks} below".strip()
        rows.setdefault(module.string, []).append(
            Cell(module.position, module.module_id, text, level, marks, notes)
        )
    return Heatmap(metric, sorted(rows.items()), low, high)
