"""Sign-in throttling: exponential back-off by address and by account, never a locked account.

Three counts of failed sign-ins over the last WINDOW, each with some free failures and then a
back-off: the next attempt waits 1 s · 2^(failures - free) after the latest failure, up to a cap.

- one account from one address (a mistyping user, or one attacker on one account): 5 free,
  up to 15 min; a successful sign-in from that address starts the count again;
- one address over every account (password spraying): 20 free, up to 15 min;
- one account from every address (a distributed attack on one account): 10 free, up to 1 min,
  and not applied to an address the account signed in from in the last 30 days ("familiar"),
  so the real user at their usual console still gets in while the account is under attack.

A throttled attempt is refused at once (429 with Retry-After): no password is checked, so it
costs no argon2 work and tells nothing, and it is not counted, so waiting is enough to get in.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

WINDOW = timedelta(minutes=15)
FAMILIAR_FOR = timedelta(days=30)
FIRST_WAIT = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Rule:
    """Failures that cost nothing, then a back-off up to `cap`; `who` names it in the message."""

    who: str
    free: int
    cap: timedelta


ACCOUNT_FROM_ADDRESS = Rule("this account from your address", 5, timedelta(minutes=15))
ADDRESS = Rule("your address", 20, timedelta(minutes=15))
ACCOUNT = Rule("this account", 10, timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class Failures:
    """How many failures count under a rule, and the latest of them."""

    count: int
    latest: datetime | None


class LoginThrottledError(Exception):
    """Too many failed sign-ins lately; `retry_after_s` says when to try again."""

    def __init__(self, rule: Rule, wait: timedelta) -> None:
        self.retry_after_s = max(1, ceil(wait.total_seconds()))
        super().__init__(
            f"too many failed sign-ins for {rule.who}; try again in {self.retry_after_s} s"
        )


def wait_under(rule: Rule, failures: Failures, now: datetime) -> timedelta:
    """How long the next attempt must wait under one rule (zero: it may go now)."""
    if failures.count < rule.free or failures.latest is None:
        return timedelta(0)
    backoff: timedelta = min(rule.cap, FIRST_WAIT * 2 ** min(failures.count - rule.free, 32))
    return max(timedelta(0), failures.latest + backoff - now)


def refuse_if_throttled(counts: dict[Rule, Failures], now: datetime) -> None:
    """LoginThrottledError for the rule that makes the attempt wait longest, if any does."""
    waits = [(wait_under(rule, failures, now), rule) for rule, failures in counts.items()]
    longest, rule = max(waits, key=lambda pair: pair[0])
    if longest > timedelta(0):
        raise LoginThrottledError(rule, longest)


FAILURES = text("""
WITH recent AS (
    SELECT username = :username AS same_account,
           remote_addr IS NOT DISTINCT FROM CAST(:addr AS inet) AS same_address, at, ok
    FROM login_attempt
    WHERE at > :since AND (username = :username OR remote_addr = CAST(:addr AS inet))
), last_success AS (
    SELECT coalesce(max(at), '-infinity') AS at FROM recent WHERE ok AND same_account
                                                              AND same_address
), failed AS (
    SELECT * FROM recent WHERE NOT ok
)
SELECT
    count(*) FILTER (WHERE same_account AND same_address AND at > (SELECT at FROM last_success)),
    max(at) FILTER (WHERE same_account AND same_address),
    count(*) FILTER (WHERE same_address), max(at) FILTER (WHERE same_address),
    count(*) FILTER (WHERE same_account), max(at) FILTER (WHERE same_account),
    EXISTS (SELECT 1 FROM login_attempt WHERE ok AND username = :username
            AND remote_addr = CAST(:addr AS inet) AND at > :familiar_since)
FROM failed
""")


async def check_throttle(
    session: AsyncSession, *, username: str, addr: str | None, now: datetime
) -> None:
    """Refuse (LoginThrottledError) an attempt that has to wait; otherwise return."""
    params = {
        "username": username,
        "addr": addr,
        "since": now - WINDOW,
        "familiar_since": now - FAMILIAR_FOR,
    }
    pair, pair_at, by_addr, addr_at, by_account, account_at, familiar = (
        await session.execute(FAILURES, params)
    ).one()
    counts = {ACCOUNT_FROM_ADDRESS: Failures(pair, pair_at), ADDRESS: Failures(by_addr, addr_at)}
    if not familiar:
        counts[ACCOUNT] = Failures(by_account, account_at)
    refuse_if_throttled(counts, now)
