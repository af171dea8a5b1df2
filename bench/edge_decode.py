"""Edge throughput: frames/s through decode + assembly + aggregation on one core.

Printed beside two baselines measured in the same run on the same frames: cantools decoding
alone, and a bare struct.unpack of each payload. Run: .venv/bin/python -m bench.edge_decode
"""

import argparse
import statistics
import struct
import time
from collections.abc import Callable
from pathlib import Path

from edge.can.assemble import Assembler
from edge.can.decode import Frame, FrameDecoder
from edge.can.protocol import Protocol, load_protocol
from edge.counters import Counters
from edge.sim.bms import SimBms
from edge.sim.plant import Plant, PlantSpec

MAPPING = Path(__file__).resolve().parents[1] / "edge" / "protocols" / "reference.toml"
TARGET_FPS = 50_000


def make_frames(protocol: Protocol, count: int) -> list[Frame]:
    """Realistic reference-protocol traffic: a 4 x 16 module site, bursts every 0.25 s."""
    plant = Plant.build(PlantSpec(4, 16, 16, 4, 280, 140, 917, 460), seed=1)
    bms = SimBms(plant, protocol)
    frames: list[Frame] = []
    t = 1_800_000_000.0
    while len(frames) < count:
        plant.step(0.25, -200.0, now=t)
        bms.evaluate()
        burst = bms.frames()
        frames += [Frame(t + i * 1e-5, f.frame_id, True, f.data) for i, f in enumerate(burst)]
        t += 0.25
    return frames[:count]


def full_pipeline(protocol: Protocol, frames: list[Frame]) -> None:
    """Decode, assemble and close a period every second, as the collector does."""
    decoder = FrameDecoder(protocol, Counters())
    assembler = Assembler(
        period_s=1.0, cells=16, temps=4, comms_timeout_s=3.0, fault_names=protocol.fault_names
    )
    next_flush = frames[0].ts + 1.0
    for frame in frames:
        decoded = decoder.decode(frame)
        if decoded is not None:
            assembler.add(decoded)
        if frame.ts >= next_flush:
            assembler.flush(frame.ts)
            next_flush = frame.ts + 1.0


def cantools_only(protocol: Protocol, frames: list[Frame]) -> None:
    """cantools' own decode of every frame (message looked up once per id type)."""
    by_type = {
        route.frame_id: protocol.message(route.message) for route in protocol.routes.values()
    }
    for frame in frames:
        by_type[frame.frame_id & 0x1FFF0000].decode(frame.data, decode_choices=False)


def struct_only(_: Protocol, frames: list[Frame]) -> None:
    """The floor: unpack each 8-byte payload into one integer."""
    unpack = struct.Struct("<Q").unpack
    for frame in frames:
        unpack(frame.data)


def measure(
    run: Callable[[Protocol, list[Frame]], None],
    protocol: Protocol,
    frames: list[Frame],
    repeats: int,
) -> float:
    """Median frames per second over `repeats` runs."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(protocol, frames)
        rates.append(len(frames) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    """Measure and print the three figures and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    protocol = load_protocol(MAPPING)
    frames = make_frames(protocol, args.frames)
    full = measure(full_pipeline, protocol, frames, args.repeats)
    cantools = measure(cantools_only, protocol, frames, args.repeats)
    bare = measure(struct_only, protocol, frames, args.repeats)
    print(f"frames: {len(frames)} reference-protocol frames, median of {args.repeats} runs")
    print(f"decode+assembly+aggregation: {full:>12,.0f} frames/s  (target {TARGET_FPS:,})")
    print(
        f"cantools decode only:        {cantools:>12,.0f} frames/s  -> full/cantools = "
        f"{full / cantools:.2f}x"
    )
    print(
        f"bare struct.unpack:          {bare:>12,.0f} frames/s  -> full/struct   = "
        f"{full / bare:.3f}x"
    )
    print(f"target met: {'yes' if full >= TARGET_FPS else 'NO'}")


if __name__ == "__main__":
    main()
