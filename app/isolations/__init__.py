"""Isolations: strings or modules taken out of service, and their return."""
