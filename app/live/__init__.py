"""Live updates for open pages: PostgreSQL LISTEN/NOTIFY fanned out as server-sent events."""
