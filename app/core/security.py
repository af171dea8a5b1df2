"""Tokens for edge devices and API clients, and who is acting on a request."""

import hashlib
import hmac
import secrets

from starlette.requests import Request

TOKEN_BYTES = 32
LOGIN_FORM_LIFETIME_S = 12 * 3600  # a sign-in form left open for a shift still works


def new_token(prefix: str) -> str:
    """A random bearer token with a readable prefix (e.g. 'rte_' for edge devices)."""
    return f"{prefix}{secrets.token_urlsafe(TOKEN_BYTES)}"


def hash_token(token: str) -> str:
    """The stored form of a token; a fast hash suffices because tokens carry 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()


def client_host(request: Request) -> str | None:
    """Where a request came from, for the audit log."""
    return request.client.host if request.client else None


def same_secret(sent: str, expected: str) -> bool:
    """Whether a secret sent by a client is the expected one, in time independent of where
    they differ (so the comparison's timing tells an attacker nothing)."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def login_nonce(cookie: str | None) -> str:
    """The sign-in form's nonce: the one in the browser's cookie if it looks right, else new."""
    if cookie and 20 <= len(cookie) <= 100 and cookie.replace("-", "").replace("_", "").isalnum():
        return cookie
    return secrets.token_urlsafe(TOKEN_BYTES)


def login_form_token(secret_key: str, nonce: str) -> str:
    """The CSRF token of the sign-in form: the nonce signed with the app's secret key, so a
    cookie planted by someone else (without a matching form) is worthless."""
    return hmac.new(secret_key.encode(), f"login:{nonce}".encode(), hashlib.sha256).hexdigest()
