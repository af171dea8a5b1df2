"""`replay --dry-run`: decode and assemble a recording without a backend, and say what it would
send and why anything was dropped, so a mapping can be checked against a real recording."""

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from edge.can.assemble import Assembler, PeriodOutput, Snapshot
from edge.can.decode import Frame, FrameDecoder
from edge.can.protocol import Protocol
from edge.counters import Counters, Reason
from edge.model import Target
from edge.site import SiteFile
from edge.uplink.wire import iso

CSV_COLUMNS = ("ts", "string", "module", "quality", "cell_v", "temp_c", "values")


@dataclass
class DryRun:
    """Samples and events a replay would send, with the counters of what was dropped."""

    modules: int = 0
    strings: int = 0
    systems: int = 0
    events: int = 0
    counters: Counters = field(default_factory=Counters)


def dry_run(
    site: SiteFile,
    protocol: Protocol,
    frames: Iterable[Frame],
    out: TextIO | None,
    counters: Counters,
) -> DryRun:
    """Decode and assemble every frame; write each sample as a CSV row to `out`, if given."""
    result = DryRun(counters=counters)
    decoder = FrameDecoder(protocol, counters)
    assembler = Assembler(
        period_s=site.collector.period_s,
        cells=site.site.cells_per_module,
        temps=site.site.temps_per_module,
        comms_timeout_s=site.collector.comms_timeout_s,
        fault_names=protocol.fault_names,
        counters=counters,
    )
    writer = None if out is None else csv.writer(out)
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    last = 0.0
    for frame in frames:
        last = frame.ts
        decoded = decoder.decode(frame)
        for piece in [] if decoded is None else decoded.split():
            if _known(site, piece.string, piece.module, counters) and piece.target != Target.ACK:
                assembler.add(piece)
        _record(result, assembler.flush(frame.ts), writer)
    if last:
        _record(result, assembler.flush(last + site.collector.period_s), writer)
    return result


def _known(site: SiteFile, string: int, module: int, counters: Counters) -> bool:
    if string <= site.site.strings and module <= site.site.modules_per_string:
        return True
    counters.reject(
        Reason.UNKNOWN_ASSET, f"string {string} module {module} is not in site {site.site.code}"
    )
    return False


def _record(result: DryRun, output: PeriodOutput, writer: Any) -> None:
    result.modules += len(output.modules)
    result.strings += len(output.strings)
    result.systems += len(output.systems)
    result.events += len(output.events)
    if output.held_back:
        result.counters.reject(
            Reason.INCOMPLETE_MODULE, output.held_back_detail, count=output.held_back
        )
    if writer is not None:
        for snapshot in [*output.modules, *output.strings, *output.systems]:
            writer.writerow(_row(snapshot))


def _row(snapshot: Snapshot) -> list[str]:
    cells = " ".join("null" if v is None else f"{v:g}" for v in snapshot.cell_v)
    values = " ".join(f"{k}={v:g}" for k, v in sorted(snapshot.values.items()))
    return [
        iso(snapshot.ts),
        str(snapshot.string),
        str(snapshot.module),
        str(snapshot.quality),
        cells,
        " ".join(f"{t:g}" for t in snapshot.temp_c),
        values,
    ]


def summary(result: DryRun, log: Path) -> str:
    """What the replay would send, and every reason something was dropped."""
    counters = result.counters
    lines = [
        f"{log.name}: {counters.frames} frames, {counters.decoded} decoded; would send "
        f"{result.modules} module samples, {result.strings} string samples, "
        f"{result.events} events"
    ]
    if result.systems:
        lines[0] += f", {result.systems} system samples"
    for reason, count in sorted(counters.rejected.items()):
        lines.append(f"  dropped {count} x {reason}")
    if not counters.rejected:
        lines.append("  nothing dropped")
    return "\n".join(lines)
