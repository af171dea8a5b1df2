"""Degrade-not-trip commands and their lifecycle."""
