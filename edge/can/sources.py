"""Frame sources: live CAN buses (any python-can interface) and recorded logs."""

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import can

from edge.can.command_frames import CommandFrame
from edge.can.decode import Frame
from edge.counters import Counters, Reason
from edge.site import BusConfig

log = logging.getLogger("edge.can.sources")
LOG_SUFFIXES = {".log", ".asc", ".blf", ".trc"}


def to_frame(message: can.Message) -> Frame | None:
    """A data frame as the decoder wants it; error and remote frames are not telemetry."""
    if message.is_error_frame or message.is_remote_frame:
        return None
    return Frame(
        message.timestamp, message.arbitration_id, message.is_extended_id, bytes(message.data)
    )


def to_message(frame: CommandFrame) -> can.Message:
    """A command frame as python-can sends it."""
    return can.Message(
        arbitration_id=frame.frame_id, data=frame.data, is_extended_id=frame.extended
    )


def open_buses(configs: list[BusConfig]) -> list[can.BusABC]:
    """Open every configured bus through can.Bus (never a vendor class directly)."""
    buses = []
    for config in configs:
        options = {"bitrate": config.bitrate, **config.options}
        if config.interface == "virtual":
            options.pop("bitrate")  # the virtual bus has no bit timing
        buses.append(can.Bus(interface=config.interface, channel=config.channel, **options))
    return buses


def bus_frames(
    buses: list[can.BusABC], stop: threading.Event, poll_s: float = 0.1
) -> Iterator[Frame | None]:
    """Frames from several buses merged in arrival order; None when a poll interval passes idle."""
    reader = can.BufferedReader()
    notifier = can.Notifier(buses, [reader], timeout=poll_s)
    try:
        while not stop.is_set():
            message = reader.get_message(timeout=poll_s)
            yield None if message is None else to_frame(message)
        # Stopping: frames already received still count (nothing read is thrown away).
        while (message := reader.get_message(timeout=0)) is not None:
            yield to_frame(message)
    finally:
        notifier.stop()


class BusRecorder:
    """Writes every frame seen on a virtual channel to a candump log, a line at a time.

    Line-buffered so that a process killed with SIGKILL leaves every frame it recorded before
    the kill readable: the log is the ground truth fault-injection tests compare against.
    """

    def __init__(self, channel: str, path: Path) -> None:
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.file = path.open("w", buffering=1)
        self.notifier = can.Notifier(self.bus, [can.CanutilsLogWriter(self.file, channel="sim")])

    def close(self) -> None:
        """Stop recording and close the log (a second call does nothing)."""
        if self.file.closed:
            return
        self.notifier.stop()
        self.bus.shutdown()
        self.file.close()


# A well-formed candump -L line: (timestamp) interface ID#DATA, with optional R/T direction.
HEX_BYTES = r"(?:[0-9A-Fa-f]{2})*"
CANDUMP_LINE = re.compile(
    rf"^\(\d+(\.\d+)?\) \S+ [0-9A-Fa-f]{{1,8}}#(R\d*|#[0-9A-Fa-f]{HEX_BYTES}|{HEX_BYTES})( [RT])?$"
)


class CheckedCandumpLines:
    """Feeds python-can's candump reader only well-formed lines; counts the others."""

    def __init__(self, file: TextIO, counters: Counters, name: str) -> None:
        self.file = file
        self.counters = counters
        self.name = name

    def __iter__(self) -> Iterator[str]:
        for number, line in enumerate(self.file, start=1):
            text = line.strip()
            if not text or CANDUMP_LINE.match(text):
                yield line
            else:
                self.counters.reject(Reason.BAD_LOG_LINE, f"{self.name}:{number}: {text[:80]!r}")

    def close(self) -> None:
        """Close the underlying file."""
        self.file.close()


def trc_messages(path: Path, zone: str | None) -> Iterator[can.Message]:
    """A PCAN trace's messages at absolute UTC times; its start time is the local wall-clock
    time of the recording PC, read in `zone` (python-can takes it as UTC)."""
    reader = can.TRCReader(str(path))
    shift: float | None = None
    for message in reader:
        if shift is None:
            start = reader.start_time  # known once the header has been read
            if start is None:
                raise ValueError(
                    f"{path}: this .trc has no $STARTTIME, so its times are "
                    "relative; record with file version 1.1 or newer"
                )
            offset = ZoneInfo(zone or "UTC").utcoffset(start.replace(tzinfo=None))
            shift = offset.total_seconds() if offset else 0.0
        message.timestamp -= shift
        yield message


def log_frames(
    path: Path, counters: Counters, *, realtime: bool = False, trc_zone: str | None = None
) -> Iterator[Frame]:
    """Frames from a recorded log (.log candump, .asc, .blf, .trc), optionally at original speed."""
    suffix = path.suffix.lower()
    if suffix not in LOG_SUFFIXES:
        raise ValueError(
            f"{path}: unsupported log format {path.suffix!r} "
            f"(use {', '.join(sorted(LOG_SUFFIXES))})"
        )
    if suffix == ".log":
        lines = CheckedCandumpLines(
            path.open(encoding="ascii", errors="replace"), counters, path.name
        )
        reader: Iterable[can.Message] = can.CanutilsLogReader(lines)  # type: ignore[arg-type]
    elif suffix == ".trc":
        reader = trc_messages(path, trc_zone)
    elif suffix == ".asc":
        # ASC stores times relative to its header date; the collector wants absolute times.
        reader = can.ASCReader(str(path), relative_timestamp=False)
    else:
        reader = can.LogReader(str(path))
    messages = can.MessageSync(reader, timestamps=True) if realtime else reader
    iterator = iter(messages)
    while True:
        try:
            message = next(iterator)
        except StopIteration:
            return
        except (ValueError, IndexError, KeyError) as exc:
            # Binary and vendor formats cannot resync after corruption: count it, stop cleanly.
            counters.reject(Reason.BAD_LOG_LINE, f"{path.name}: {exc}")
            return
        frame = to_frame(message)
        if frame is not None:
            yield frame
