"""Password hashing with argon2id (the library's defaults follow RFC 9106's recommendation).

Argon2 costs tens of milliseconds of CPU and 64 MiB per hash by design, so the async helpers run
it in worker threads (the library releases the GIL), at most HASH_SLOTS at a time: the event
loop keeps serving while people sign in, and a burst of sign-ins queues rather than taking all
the memory.
"""

import os
import secrets

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()
MIN_LENGTH = 12
HASH_SLOTS = CapacityLimiter(max(2, os.cpu_count() or 2))
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


async def hash_password_off_loop(password: str) -> str:
    """hash_password in a worker thread."""
    return await to_thread.run_sync(hash_password, password, limiter=HASH_SLOTS)


async def verify_password_off_loop(stored: str | None, password: str) -> bool:
    """verify_password in a worker thread."""
    return await to_thread.run_sync(verify_password, stored, password, limiter=HASH_SLOTS)
