"""The store-and-forward spool: numbering, live-first order, confirmation, bounded size."""

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from edge.uplink.quarantine import SpoolCorruptError, quarantined
from edge.uplink.spool import Spool


def body(seq: int, size: int = 10) -> dict[str, Any]:
    """A batch body of roughly `size` bytes once compressed (random-ish, so it compresses badly)."""
    return {"seq": seq, "pad": [str((seq * 7919 + i) * 104729) for i in range(size)]}


def decode(raw: bytes) -> dict[str, Any]:
    """The JSON body of a spooled batch."""
    loaded: dict[str, Any] = json.loads(gzip.decompress(raw))
    return loaded


def test_sequence_numbers_survive_a_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    assert [spool.append(body, now=100.0) for _ in range(3)] == [1, 2, 3]
    edge_id = spool.edge_id
    spool.close()
    reopened = Spool(tmp_path / "s.sqlite3")
    assert reopened.edge_id == edge_id
    assert reopened.append(body, now=101.0) == 4
    assert reopened.depth() == 4


def test_live_batch_goes_before_backlog_then_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    for t in (10.0, 11.0, 12.0):
        spool.append(body, now=t)
    spool.append(body, now=100.0)
    assert spool.next_batch(now=101.0).seq == 4  # type: ignore[union-attr]
    spool.confirm(4)
    assert spool.next_batch(now=101.0).seq == 1  # type: ignore[union-attr]
    spool.confirm(1)
    batch = spool.next_batch(now=101.0)
    assert batch is not None
    assert decode(batch.body)["seq"] == 2


def test_confirmed_batches_leave_and_nothing_else_does(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    for _ in range(3):
        spool.append(body, now=1.0)
    spool.confirm(2)
    assert spool.depth() == 2
    assert spool.next_batch(now=1.0).seq == 3  # type: ignore[union-attr]


def test_full_spool_drops_oldest_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", max_bytes=6_000)
    for _ in range(20):
        spool.append(lambda seq: body(seq, size=200), now=1.0)
    assert spool.dropped_so_far() > 0
    assert spool.depth() + spool.dropped_so_far() == 20
    oldest = spool.db.execute("SELECT min(seq) FROM batch").fetchone()[0]
    assert oldest == spool.dropped_so_far() + 1  # the oldest went first


def test_each_batch_reports_the_drops_its_own_arrival_caused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", max_bytes=6_000)
    for _ in range(20):
        spool.append(lambda seq: {**body(seq, size=200), "dropped": spool.dropped_so_far()})
        newest = spool.db.execute("SELECT body FROM batch ORDER BY seq DESC LIMIT 1").fetchone()
        # The newest batch always knows every drop so far: none goes unreported.
        assert json.loads(gzip.decompress(newest[0]))["dropped"] == spool.dropped_so_far()
        assert spool.size <= 6_000


def test_a_batch_bigger_than_the_spool_is_kept_alone(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", max_bytes=100)
    spool.append(lambda seq: body(seq, size=50))
    spool.append(lambda seq: body(seq, size=5_000))
    assert [seq for (seq,) in spool.db.execute("SELECT seq FROM batch")] == [2]
    assert spool.dropped_so_far() == 1


def test_refused_batch_is_kept_aside_not_lost(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    spool.append(body, now=1.0)
    spool.bury(1, "422: schema")
    assert spool.depth() == 0
    assert spool.db.execute("SELECT seq, reason FROM dead").fetchall() == [(1, "422: schema")]


GARBAGE = b"this is not a database\n" * 500


def test_a_garbage_spool_is_moved_aside_and_a_fresh_one_started(tmp_path: Path) -> None:
    path = tmp_path / "site.sqlite3"
    path.write_bytes(GARBAGE)
    Path(f"{path}-wal").write_bytes(b"junk wal")
    spool = Spool(path)
    assert spool.append(body, now=1.0) == 1  # collecting again, from a fresh start
    kept = quarantined(path)
    assert [p.name.startswith("site.sqlite3.corrupt-") for p in kept] == [True]
    assert kept[0].read_bytes() == GARBAGE  # kept as it was, for inspection
    assert Path(f"{kept[0]}-wal").read_bytes() == b"junk wal"
    assert spool.quarantined == 1
    spool.close()
    assert Spool(path).quarantined == 1  # a sound spool is not moved again


def test_a_spool_with_a_damaged_page_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "site.sqlite3"
    spool = Spool(path)
    for _ in range(50):
        spool.append(lambda seq: body(seq, size=200), now=1.0)
    spool.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    spool.close()
    raw = bytearray(path.read_bytes())
    raw[4096 * 2 : 4096 * 2 + 512] = b"\xff" * 512  # a b-tree page's header overwritten
    path.write_bytes(bytes(raw))
    fresh = Spool(path)
    assert fresh.depth() == 0
    assert len(quarantined(path)) == 1


def test_a_corrupt_spool_is_left_alone_when_repair_is_off(tmp_path: Path) -> None:
    path = tmp_path / "site.sqlite3"
    path.write_bytes(GARBAGE)
    with pytest.raises(SpoolCorruptError, match="not a database"):
        Spool(path, repair=False)
    assert path.read_bytes() == GARBAGE
    assert quarantined(path) == []


def test_dead_letters_are_bounded_the_oldest_dropped_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", dead_max=3)
    for _ in range(5):
        spool.append(body, now=1.0)
    for seq in range(1, 6):
        spool.bury(seq, f"422: batch {seq} refused")
    assert [seq for seq, _ in spool.dead_list()] == [3, 4, 5]
    assert (spool.dead_letters(), spool.dead_dropped()) == (3, 2)
    reopened = Spool(tmp_path / "s.sqlite3", dead_max=3)
    assert reopened.dead_dropped() == 2  # kept across restarts, like the spool's own drops


def test_resent_dead_letters_go_back_in_the_queue_of_a_running_edge(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    running = Spool(path)  # the edge's spool, open while the command runs
    for _ in range(3):
        running.append(body, now=1.0)
    running.bury(1, "413: too large")
    running.bury(2, "413: too large")
    command = Spool(path, repair=False)  # `python -m edge spool resend`, another process
    assert command.resend_dead([2, 7]) == [2]
    assert command.resend_dead() == [1]
    command.close()
    assert running.dead_letters() == 0
    batch = running.next_batch(now=100.0)
    assert batch is not None
    assert (batch.seq, decode(batch.body)["seq"]) == (1, 1)  # its own number and body
    running.append(body, now=100.0)
    stored = running.db.execute("SELECT sum(bytes) FROM batch").fetchone()[0]
    assert running.size == stored  # the running edge re-summed what was added behind it
