"""Password hashing with argon2id (the library's defaults follow RFC 9106's recommendation)."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()
MIN_LENGTH = 12
# Verifying against this when the user does not exist keeps the time the same either way.
DUMMY_HASH = HASHER.hash("no such user, same work")


def generate_password() -> str:
    """A random password for a new or reset user (16 characters, 96 bits)."""
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    """The stored form of a password."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether the password matches; False for a missing user, after the same work."""
    try:
        return HASHER.verify(stored or DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
