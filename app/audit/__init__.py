"""Audit trail: who did what, when, from where."""
