"""Module and string telemetry: hypertables, latest state, series."""
