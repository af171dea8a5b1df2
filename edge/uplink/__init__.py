"""Getting samples to the backend: the store-and-forward spool, the wire format and the sender."""
