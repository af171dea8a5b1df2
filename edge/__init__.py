"""Ridethrough edge collector: CAN in, decoded telemetry out, commands back to the bus."""
