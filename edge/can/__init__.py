"""The CAN side: frames from buses or logs, decoded by the protocol, assembled into samples."""
