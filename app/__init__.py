"""Ridethrough backend: fleet supervisory dashboard for battery energy storage."""
