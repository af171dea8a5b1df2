"""Fuzzing the edge's CAN path: random ids, lengths and payloads through decode and assembly.

Whatever arrives on the bus, the edge must not crash, must count every frame, and must only
ever put values on the wire that the mapping's ranges allow and the backend's wire schema
accepts.
"""

import json
import math
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ingest.parsing import parse_row_by_row
from edge.can.assemble import Assembler, PeriodOutput
from edge.can.decode import Decoded, Frame, FrameDecoder
from edge.can.protocol import Protocol, Route, load_protocol
from edge.counters import Counters
from edge.model import Target
from edge.uplink.wire import (
    asset_record,
    batch_body,
    event_record,
    module_record,
    string_record,
    system_record,
)
from tests.edge_process import OTHER_MAPPING, REFERENCE_MAPPING

T0 = 1_795_000_000.0
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def protocol(name: str) -> Protocol:
    """A loaded protocol (loading parses the DBC: once per test session)."""
    return load_protocol(REFERENCE_MAPPING if name == "reference" else OTHER_MAPPING)


PROTOCOLS = st.sampled_from(["reference", "other"])


@st.composite
def routed_frames(draw: st.DrawFn, proto: Protocol) -> Frame:
    """A frame whose id routes to a mapped message (random address bits), any payload."""
    route: Route = draw(st.sampled_from(sorted(proto.routes.values(), key=lambda r: r.message)))
    address_bits = draw(st.integers(0, (1 << 29) - 1)) & ~route.id_mask
    limit = (1 << 29) - 1 if route.extended else 0x7FF
    frame_id = (route.frame_id | address_bits) & limit
    length = draw(st.sampled_from([route.length] * 4 + list(range(9))))  # mostly right DLC
    return Frame(0.0, frame_id, route.extended, draw(st.binary(min_size=length, max_size=length)))


@st.composite
def any_frames(draw: st.DrawFn, proto: Protocol) -> Frame:
    """Mostly routed frames, some with ids and DLCs (up to CAN FD's 64 bytes) from anywhere."""
    if draw(st.booleans()):
        return draw(routed_frames(proto))
    extended = draw(st.booleans())
    frame_id = draw(st.integers(0, (1 << 29) - 1 if extended else 0x7FF))
    return Frame(0.0, frame_id, extended, draw(st.binary(max_size=64)))


def assert_values_allowed(decoded: Decoded) -> None:
    """Every decoded value is finite and inside its field's mapped range."""
    for field, value in decoded.values:
        assert math.isfinite(value), (field.signal, value)
        assert field.low <= value <= field.high, (field.signal, value)


@FUZZ
@given(data=st.data(), name=PROTOCOLS)
def test_decoding_any_frame_never_raises_and_counts_it(data: st.DataObject, name: str) -> None:
    proto = protocol(name)
    counters = Counters()
    decoder = FrameDecoder(proto, counters)
    frames = data.draw(st.lists(any_frames(proto), min_size=1, max_size=40))
    for frame in frames:
        decoded = decoder.decode(frame)
        if decoded is not None:
            assert_values_allowed(decoded)
            if decoded.target is Target.SYSTEM:  # the whole battery: no string, no module
                assert (decoded.string, decoded.module) == (0, 0)
            else:
                assert 1 <= decoded.string <= 31
                assert 0 <= decoded.module <= 32
    assert counters.frames == len(frames)
    snapshot = counters.snapshot()
    refused = sum(snapshot["rejected"].values())
    # A frame is decoded or refused as a whole; value-level refusals may add to the count.
    assert counters.decoded + refused >= len(frames)
    json.dumps(snapshot)  # the counters travel in every batch


@FUZZ
@given(data=st.data(), name=PROTOCOLS)
def test_assembling_random_traffic_emits_only_whole_valid_samples(
    data: st.DataObject, name: str
) -> None:
    proto = protocol(name)
    decoder = FrameDecoder(proto, Counters())
    assembler = Assembler(
        period_s=1.0, cells=16, temps=4, comms_timeout_s=3.0, fault_names=proto.fault_names
    )
    frames = data.draw(st.lists(routed_frames(proto), min_size=1, max_size=120))
    gaps = data.draw(st.lists(st.floats(0, 2.5), min_size=len(frames), max_size=len(frames)))
    outputs: list[PeriodOutput] = []
    now = T0
    for frame, gap in zip(frames, gaps, strict=True):
        now += gap
        decoded = decoder.decode(Frame(now, frame.frame_id, frame.extended, frame.data))
        if decoded is not None:
            assembler.add(decoded)
        if gap > 1.0:
            outputs.append(assembler.flush(now))
    outputs.append(assembler.flush(now + 10))

    seen: set[tuple[float, int, int]] = set()
    for output in outputs:
        for snapshot in output.modules + output.strings + output.systems:
            key = (snapshot.ts, snapshot.string, snapshot.module)
            assert key not in seen  # one sample per asset per period
            seen.add(key)
            assert snapshot.ts == math.floor(snapshot.ts)
            assert T0 - 1 <= snapshot.ts <= now
            assert len(snapshot.cell_v) == (16 if snapshot.module else 0)
            assert all(v is None or 0.0 <= v <= 5.0 for v in snapshot.cell_v)
            assert all(-40.0 <= t <= 125.0 for t in snapshot.temp_c)
        assert_wire_accepts(output)


def assert_wire_accepts(output: PeriodOutput) -> None:
    """The backend's row-by-row parser refuses nothing the edge would send for this output."""
    body = batch_body(
        edge_id="00000000-0000-0000-0000-000000000007",
        seq=1,
        site="fuzz",
        created_at=T0,
        counters={},
        modules=[module_record(s) for s in output.modules],
        strings=[string_record(s) for s in output.strings],
        events=[event_record(e) for e in output.events],
        assets=[
            asset_record(s.string, s.module, cell_count=len(s.cell_v), temp_count=len(s.temp_c))
            for s in output.modules
        ],
        systems=[system_record(s) for s in output.systems],
    )
    parsed = parse_row_by_row(json.dumps(body).encode())
    assert parsed.rejections == [], parsed.rejections[:3]


def test_an_undefined_multiplexer_value_is_counted_not_raised() -> None:
    # The fuzzer's first find: MOD_TEMP carries groups 0-3; group 4 crashed the collector.
    counters = Counters()
    frame = Frame(T0, 0x1020000 | 1 << 8 | 2, True, bytes([4, 0, 0, 0, 0, 0, 0, 0]))

    assert FrameDecoder(protocol("reference"), counters).decode(frame) is None
    assert counters.snapshot()["rejected"] == {"undecodable": 1}
