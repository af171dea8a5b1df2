"""Telemetry ingest: validate, de-duplicate and bulk-write batches from edge devices."""
