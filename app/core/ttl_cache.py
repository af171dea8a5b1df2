"""A small per-process cache whose entries expire after a fixed time."""

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values by key for `ttl_s` seconds, at most `max_entries` of them (oldest out first)."""

    def __init__(
        self, ttl_s: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value if it is still fresh, else None."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def put(self, key: K, value: V) -> V:
        """Keep `value` for the cache's time; returns it."""
        self._entries.pop(key, None)
        self._entries[key] = (self.clock() + self.ttl_s, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value

    async def get_or_load(
        self, key: K, load: Callable[[], Awaitable[V]], *, fresh: bool = False
    ) -> V:
        """The cached value, or `load()`'s (also when `fresh` is asked for), kept for next time."""
        cached = None if fresh else self.get(key)
        return cached if cached is not None else self.put(key, await load())

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
