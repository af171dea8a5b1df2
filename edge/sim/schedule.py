"""A site's daily charge/discharge plan, run as an energy management system runs it.

Each window of the day has a C-rate and a state of charge at which it stops: charging ends at
its target, discharging at its floor. The site therefore cycles within its working range day
after day, whatever its losses and however charge and discharge current differ for the same
power. Hours are the site's local time; the weather of the day scales the solar charge and the
evening demand, so no two days look the same.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Window:
    """A part of the day with a planned C-rate, until a state of charge is reached."""

    start_h: float
    end_h: float
    c_rate: float  # positive discharges, negative charges (SunSpec's sign, as everywhere)
    stop_soc: float  # charging stops at or above this SoC (0..1), discharging at or below it
    weather: bool = False  # scaled by the day's weather (solar charge, evening demand)


# The peaks discharge at 0.25 C, above the 0.2 C at which cell spread counts as "under load"
# (DESIGN.md §5): at 0.2 C of nameplate a string carries a little less than 0.2 C of its own,
# its voltage being above nominal, and the spread-under-load KPI would have no minutes.
DAILY_PLAN = (
    Window(0.0, 5.0, -0.10, 0.60),  # night charge on cheap energy
    Window(7.0, 9.0, 0.25, 0.35),  # morning peak
    Window(10.5, 15.0, -0.15, 0.88, weather=True),  # midday solar
    Window(17.0, 21.0, 0.25, 0.25, weather=True),  # evening peak
)
# The working range the plan keeps to (its lowest floor and highest target).
SOC_FLOOR = min(w.stop_soc for w in DAILY_PLAN if w.c_rate > 0)
SOC_CEILING = max(w.stop_soc for w in DAILY_PLAN if w.c_rate < 0)


def window_at(ts: float, zone: tzinfo = UTC) -> Window | None:
    """The plan's window at a time (seconds since the epoch), in the site's time zone."""
    moment = datetime.fromtimestamp(ts, zone)
    hour = moment.hour + moment.minute / 60 + moment.second / 3600
    return next((w for w in DAILY_PLAN if w.start_h <= hour < w.end_h), None)


def c_rate_at(ts: float, zone: tzinfo = UTC) -> float:
    """The planned C-rate at a time, before the day's weather and the SoC limits."""
    window = window_at(ts, zone)
    return 0.0 if window is None else window.c_rate


@lru_cache(maxsize=64)
def weather(seed: int, day: str) -> float:
    """The day's factor on the weather-bound windows: a dull day charges less from the sun."""
    return random.Random(f"{seed}:{day}").uniform(0.55, 1.1)


def planned_kw(
    ts: float, *, soc: float, energy_kwh: float, power_kw: float, zone: tzinfo = UTC, seed: int = 0
) -> float:
    """The site's set-point in kW (positive discharges) at a time and state of charge (0..1)."""
    window = window_at(ts, zone)
    if window is None:
        return 0.0
    rate = window.c_rate
    if window.weather:
        rate *= weather(seed, datetime.fromtimestamp(ts, zone).date().isoformat())
    if (rate > 0 and soc <= window.stop_soc) or (rate < 0 and soc >= window.stop_soc):
        return 0.0
    return max(-power_kw, min(power_kw, rate * energy_kwh))
