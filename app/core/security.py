"""Tokens for edge devices and API clients, and who is acting on a request."""

import hashlib
import secrets

from starlette.requests import Request

TOKEN_BYTES = 32


def new_token(prefix: str) -> str:
    """A random bearer token with a readable prefix (e.g. 'rte_' for edge devices)."""
    return f"{prefix}{secrets.token_urlsafe(TOKEN_BYTES)}"


def hash_token(token: str) -> str:
    """The stored form of a token; a fast hash suffices because tokens carry 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()


def client_host(request: Request) -> str | None:
    """Where a request came from, for the audit log."""
    return request.client.host if request.client else None
