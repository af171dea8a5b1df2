"""The back-off rules and the trusted-proxy walk, as pure functions."""

from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

import pytest

from app.auth.throttle import (
    ACCOUNT,
    ACCOUNT_FROM_ADDRESS,
    Failures,
    LoginThrottledError,
    refuse_if_throttled,
    wait_under,
)
from app.core.proxies import forwarded_client

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
RULE = ACCOUNT_FROM_ADDRESS


def test_failures_up_to_the_free_count_cost_nothing() -> None:
    assert wait_under(RULE, Failures(RULE.free - 1, NOW), NOW) == timedelta(0)


@pytest.mark.parametrize(("beyond", "seconds"), [(0, 1), (1, 2), (2, 4), (5, 32), (30, 900)])
def test_each_further_failure_doubles_the_wait_up_to_the_cap(beyond: int, seconds: int) -> None:
    failures = Failures(RULE.free + beyond, NOW)
    assert wait_under(RULE, failures, NOW) == timedelta(seconds=seconds)
    assert wait_under(RULE, failures, NOW + timedelta(seconds=seconds)) == timedelta(0)


def test_the_longest_wait_is_the_one_reported() -> None:
    counts = {RULE: Failures(RULE.free, NOW), ACCOUNT: Failures(ACCOUNT.free + 20, NOW)}
    with pytest.raises(LoginThrottledError, match="for this account; try again in 60 s") as err:
        refuse_if_throttled(counts, NOW)
    assert err.value.retry_after_s == 60


PROXY = [ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("192.0.2.1", ["198.51.100.7"], "192.0.2.1"),  # not a proxy: its header means nothing
        ("10.0.0.2", ["198.51.100.7"], "198.51.100.7"),
        ("10.0.0.2", ["1.2.3.4, 198.51.100.7"], "198.51.100.7"),  # the client's own is ignored
        ("10.0.0.2", ["198.51.100.7, 10.0.0.3"], "198.51.100.7"),  # through two proxies
        ("10.0.0.2", ["198.51.100.7", "10.0.0.3"], "198.51.100.7"),  # as two header lines
        ("10.0.0.2", ["not-an-address, 10.0.0.3"], "10.0.0.3"),  # garbage: the last known hop
        ("10.0.0.2", [], "10.0.0.2"),
    ],
)
def test_the_client_is_the_nearest_address_that_is_not_a_trusted_proxy(
    peer: str, header: list[str], client: str
) -> None:
    assert forwarded_client(peer, header, PROXY) == client
