"""The per-process TTL cache: fresh values come back, stale ones and the oldest go."""

import pytest

from app.core.ttl_cache import TtlCache


@pytest.fixture
def clock() -> list[float]:
    """A monotonic clock the test moves by hand."""
    return [1000.0]


def test_a_value_is_kept_for_its_time_and_not_a_moment_longer(clock: list[float]) -> None:
    cache: TtlCache[str, int] = TtlCache(ttl_s=60, clock=lambda: clock[0])
    cache.put("a", 1)
    clock[0] += 59.9
    assert cache.get("a") == 1
    clock[0] += 0.1
    assert cache.get("a") is None


def test_the_oldest_entry_leaves_when_the_cache_is_full(clock: list[float]) -> None:
    cache: TtlCache[int, int] = TtlCache(ttl_s=60, max_entries=2, clock=lambda: clock[0])
    for key in (1, 2, 3):
        cache.put(key, key * 10)
    assert (cache.get(1), cache.get(2), cache.get(3)) == (None, 20, 30)


async def test_get_or_load_loads_once_until_stale_or_asked_fresh(clock: list[float]) -> None:
    cache: TtlCache[str, int] = TtlCache(ttl_s=10, clock=lambda: clock[0])
    loads: list[int] = []

    async def load() -> int:
        loads.append(len(loads))
        return len(loads)

    assert [await cache.get_or_load("k", load) for _ in range(3)] == [1, 1, 1]
    assert await cache.get_or_load("k", load, fresh=True) == 2
    clock[0] += 10
    assert await cache.get_or_load("k", load) == 3
    assert loads == [0, 1, 2]
