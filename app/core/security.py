"""Token generation and hashing for edge devices and API tokens."""

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token(prefix: str) -> str:
    """A random bearer token with a readable prefix (e.g. 'rte_' for edge devices)."""
    return f"{prefix}{secrets.token_urlsafe(TOKEN_BYTES)}"


def hash_token(token: str) -> str:
    """The stored form of a token; a fast hash suffices because tokens carry 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()
