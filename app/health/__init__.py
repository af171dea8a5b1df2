"""Health: the app's liveness and readiness probes, and the battery's (weak cells, trends)."""
