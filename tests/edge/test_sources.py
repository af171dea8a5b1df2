"""Frame sources: recorded logs in every supported format, real-time pacing, several buses."""

import threading
import time
from pathlib import Path

import can
import pytest

from edge.can.decode import Frame
from edge.can.sources import bus_frames, log_frames
from edge.counters import Counters, Reason

T0 = 1_800_000_000.0


def sample_messages() -> list[can.Message]:
    """A few extended and standard frames, 0.1 s apart."""
    return [
        can.Message(
            timestamp=T0 + i * 0.1,
            arbitration_id=0x0101_0100 + i,
            is_extended_id=True,
            data=bytes([i, 1, 2, 3, 4, 5, 6, 7]),
            channel=0,
        )
        for i in range(5)
    ] + [
        can.Message(
            timestamp=T0 + 0.6,
            arbitration_id=0x123,
            is_extended_id=False,
            data=b"\x01\x02",
            channel=0,
        )
    ]


def write_log(path: Path, messages: list[can.Message]) -> None:
    """Write messages with python-can's own writer for the file's format."""
    with can.Logger(str(path)) as logger:
        for message in messages:
            logger.on_message_received(message)


@pytest.mark.parametrize("suffix", [".log", ".asc", ".blf", ".trc"])
def test_every_log_format_replays_the_same_frames(tmp_path: Path, suffix: str) -> None:
    messages = sample_messages()
    path = tmp_path / f"recording{suffix}"
    write_log(path, messages)
    frames = list(log_frames(path, Counters()))
    assert [(f.frame_id, f.extended, f.data) for f in frames] == [
        (m.arbitration_id, m.is_extended_id, bytes(m.data)) for m in messages
    ]
    assert frames[0].ts == pytest.approx(T0, abs=1e-3)


def test_truncated_candump_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "damaged.log"
    path.write_text(
        f"({T0:.6f}) can0 18FF0001#0102030405060708\n"
        f"({T0 + 0.1:.6f}) can0 18FF00\n"  # cut off mid-line
        f"({T0 + 0.2:.6f}) can0 123#0\n"  # odd number of hex digits
        f"({T0 + 0.3:.6f}) can0 124#0102\n"
    )
    counters = Counters()
    frames = list(log_frames(path, counters))
    assert [f.frame_id for f in frames] == [0x18FF0001, 0x124]
    assert counters.rejected == {Reason.BAD_LOG_LINE: 2}


def test_unsupported_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unsupported log format '\.csv'"):
        list(log_frames(tmp_path / "x.csv", Counters()))


def test_realtime_replay_keeps_the_original_pace(tmp_path: Path) -> None:
    path = tmp_path / "paced.log"
    write_log(path, sample_messages())  # spans 0.6 s
    start = time.monotonic()
    frames = list(log_frames(path, Counters(), realtime=True))
    assert len(frames) == 6
    assert time.monotonic() - start >= 0.5


def test_several_buses_are_merged() -> None:
    buses = [can.Bus(interface="virtual", channel=f"merge-{i}") for i in range(2)]
    senders = [can.Bus(interface="virtual", channel=f"merge-{i}") for i in range(2)]
    stop = threading.Event()
    received: list[Frame] = []

    def collect() -> None:
        for frame in bus_frames(buses, stop, poll_s=0.05):
            if frame is not None:
                received.append(frame)

    reader = threading.Thread(target=collect)
    reader.start()
    time.sleep(0.1)
    senders[0].send(can.Message(arbitration_id=0x100, data=b"\x01", is_extended_id=False))
    senders[1].send(can.Message(arbitration_id=0x200, data=b"\x02", is_extended_id=False))
    deadline = time.monotonic() + 2
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    reader.join(timeout=2)
    for bus in buses + senders:
        bus.shutdown()
    assert sorted(f.frame_id for f in received) == [0x100, 0x200]
