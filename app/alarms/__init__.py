"""Alarms with the ISA-18.2 lifecycle."""
