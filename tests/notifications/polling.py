"""Waiting on observable state with a generous deadline (the machine is shared and loaded)."""

import time
from collections.abc import Callable
from typing import Any

import psycopg

DEADLINE_S = 60.0


def poll_rows(
    dsn: str,
    sql: str,
    *params: object,
    until: Callable[[list[tuple[Any, ...]]], bool],
    deadline_s: float = DEADLINE_S,
) -> list[tuple[Any, ...]]:
    """Run the query until `until` accepts its rows; fail with the last rows at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(sql, params).fetchall()
        if until(rows):
            return rows
        if time.monotonic() > end:
            raise AssertionError(f"gave up after {deadline_s} s; last rows: {rows}")
        time.sleep(0.2)
