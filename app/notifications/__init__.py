"""Alarm notifications: watchdog alarms, rules, contacts, the outbox and its channels."""
