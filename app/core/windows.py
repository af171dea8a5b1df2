"""The time windows users choose from (trends, fault log, KPIs), by their shared names."""

from datetime import timedelta

WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
