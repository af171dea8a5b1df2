"""The integrator's tools: check-config warnings, replay --dry-run, PCAN trace start times."""

import csv
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import can
import pytest

from app.config import PROJECT_ROOT
from edge.can.sources import log_frames
from edge.counters import Counters
from tests.e2e.test_vendor_layouts import cellmon_frames, write_log
from tests.edge_process import write_site_file

PROTOCOLS = PROJECT_ROOT / "tests" / "protocols"


def edge(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m edge ARGS`, as a user runs it."""
    command = [sys.executable, "-m", "edge", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)


def cellmon_copy(tmp_path: Path, mapping_text: str) -> Path:
    """A cellmon mapping with this text, next to a copy of its DBC."""
    (tmp_path / "cellmon.dbc").write_text((PROTOCOLS / "cellmon.dbc").read_text())
    path = tmp_path / "cellmon.toml"
    path.write_text(mapping_text)
    return path


def test_the_obvious_off_by_one_mapping_is_impossible_to_miss(tmp_path: Path) -> None:
    # {n:03} with n = 1..18 binds CellVoltage_001..CellVoltage_018: _018 does not exist.
    text = (PROTOCOLS / "cellmon.toml").read_text().replace("{n-1:03}", "{n:03}")
    result = edge("check-config", str(cellmon_copy(tmp_path, text)))
    assert result.returncode == 2
    assert "signal 'CellVoltage_018' does not exist in message CellmonVoltages" in result.stderr
    # The same with index = [1, 17]: it loads, and the unbound first member is named.
    text = text.replace("index = [1, 18]", "index = [1, 17]")
    result = edge("check-config", str(cellmon_copy(tmp_path, text)))
    assert result.returncode == 0, result.stderr
    warning = (
        "warning: message CellmonVoltages: CellVoltage_… members CellVoltage_000 are not "
        "bound, while CellVoltage_001..CellVoltage_017 are: off by one?"
    )
    assert warning in result.stdout
    assert "write {n-1} in the template (e.g. CellVoltage_{n-1:03})" in result.stdout


def test_unbound_signals_and_uncatalogued_fault_codes_are_warned(tmp_path: Path) -> None:
    text = (PROTOCOLS / "cellmon.toml").read_text()
    text = text.replace('    { field = "soc_pct", signal = "ShuntSOC" },\n', "")
    result = edge("check-config", str(cellmon_copy(tmp_path, text)))
    assert result.returncode == 0, result.stderr
    assert "warning: message ShuntStatus: 1 signals are not bound (ShuntSOC)" in result.stdout
    assert (
        "fault codes without catalogue text: can_timeout, contactor_open_fail, "
        "current_sensor_fault, eeprom_fault, fan_fault"
    ) in result.stdout


def test_a_site_file_is_checked_with_its_mapping_and_cell_count(tmp_path: Path) -> None:
    site = write_site_file(
        tmp_path,
        code="t1",
        mapping=PROTOCOLS / "cellmon.toml",
        strings=1,
        modules=6,
        cells=16,
        temps=4,
    )
    result = edge("check-config", str(site))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"site file {site.name}: checking its mapping")
    assert (
        "site t1: cells_per_module = 16 but the mapping binds 18 per module; the extra "
        "values are not stored"
    ) in result.stdout


def test_bad_template_is_an_error_with_file_and_field_not_a_traceback(tmp_path: Path) -> None:
    text = (PROTOCOLS / "cellmon.toml").read_text().replace("{n-1:03}", "{n:xyz}", 1)
    result = edge("check-config", str(cellmon_copy(tmp_path, text)))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"error: {tmp_path / 'cellmon.toml'}:" in result.stderr
    assert "message.0.fields.0: {n:xyz} in 'CellVoltage_{n:xyz}': bad format 'xyz'" in (
        result.stderr
    )


def test_replay_dry_run_says_what_it_would_send_and_why_it_dropped(tmp_path: Path) -> None:
    # The site file has 5 modules; the recording has 6: module 6 is an unknown asset.
    site = write_site_file(
        tmp_path,
        code="t2",
        mapping=PROTOCOLS / "cellmon.toml",
        strings=1,
        modules=5,
        cells=18,
        temps=4,
    )
    log = tmp_path / "cellmon.log"
    write_log(log, [*cellmon_frames(1_800_000_000.0, 3), (1_800_000_002.9, 0x7AB, bytes(8))])
    out = tmp_path / "samples.csv"
    result = edge("replay", str(log), "--config", str(site), "--dry-run", "--csv", str(out))
    assert result.returncode == 0, result.stderr
    assert "would send 15 module samples, 3 string samples, 4 events" in result.stdout
    assert "dropped 1 x unknown_id" in result.stdout
    assert "dropped 18 x unknown_asset" in result.stdout  # module 6: 6 frames a second
    assert "dropped 4 x invalid_flag" in result.stdout
    rows = list(csv.DictReader(out.open()))
    module_3 = [r for r in rows if (r["module"], r["ts"]) == ("3", "2027-01-15T08:00:01.000Z")]
    assert module_3[0]["cell_v"].split()[4] == "null"  # the invalid cell, as it would be sent


def write_trc(path: Path, start_utc: datetime, stamps: list[float]) -> None:
    """A version 2.1 PCAN trace written by python-can (its $STARTTIME is UTC)."""
    with can.TRCWriter(str(path)) as writer:
        for ts in stamps:
            writer.on_message_received(
                can.Message(
                    timestamp=start_utc.timestamp() + ts,
                    arbitration_id=0x100,
                    data=bytes(8),
                    is_extended_id=False,
                )
            )


@pytest.mark.parametrize(("zone", "shift_h"), [(None, 0), ("UTC", 0), ("Europe/Berlin", -1)])
def test_a_pcan_trace_start_time_is_read_in_the_recorders_zone(
    tmp_path: Path, zone: str | None, shift_h: int
) -> None:
    start = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
    path = tmp_path / "rec.trc"
    write_trc(path, start, [0.0, 1.5])
    frames = list(log_frames(path, Counters(), trc_zone=zone))
    # The header says 09:00; recorded in Berlin (UTC+1 in January) that is 08:00 UTC.
    expected = start.timestamp() + shift_h * 3600
    assert [round(f.ts - expected, 3) for f in frames] == [0.0, 1.5]
