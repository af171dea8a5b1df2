"""A daily charge/discharge schedule, as a fraction of the site's energy per hour (C-rate)."""

from datetime import UTC, datetime

# (start hour, end hour, C-rate): positive discharges, negative charges (SunSpec's sign, as
# everywhere in the product); idle elsewhere.
DAILY_PLAN = (
    (1.0, 5.0, -0.20),  # night charge
    (7.0, 9.0, 0.30),  # morning peak
    (11.0, 14.0, -0.30),  # midday solar
    (17.0, 21.0, 0.40),  # evening peak
)


def c_rate_at(ts: float) -> float:
    """The planned C-rate at a UTC time (seconds since the epoch)."""
    moment = datetime.fromtimestamp(ts, UTC)
    hour = moment.hour + moment.minute / 60 + moment.second / 3600
    for start, end, rate in DAILY_PLAN:
        if start <= hour < end:
            return rate
    return 0.0
