"""`python -m edge check-config` prints the resolved table or every problem found."""

import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT


def check_config(mapping: Path) -> subprocess.CompletedProcess[str]:
    """Run the command as a user would."""
    command = [sys.executable, "-m", "edge", "check-config", str(mapping)]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)


def test_reference_protocol_table() -> None:
    result = check_config(PROJECT_ROOT / "edge" / "protocols" / "reference.toml")
    assert result.returncode == 0, result.stderr
    assert "MOD_CELL_V  01010000/1FFF0000  module  cell_v[31]" in result.stdout
    assert result.stdout.rstrip().endswith("85 signal bindings, DBC reference.dbc; OK")


def test_every_problem_is_listed(tmp_path: Path) -> None:
    dbc = (PROJECT_ROOT / "edge" / "protocols" / "reference.dbc").read_text()
    (tmp_path / "reference.dbc").write_text(dbc)
    mapping = tmp_path / "bad.toml"
    mapping.write_text(
        '[protocol]\nname = "bad"\ndbc = "reference.dbc"\n'
        '[[message]]\nname = "STR_STATUS"\ntarget = "string"\n'
        "address = { string = { id_bits = [8, 8] } }\n"
        'fields = [{ field = "voltage_v", signal = "StrVolts" },'
        ' { field = "current_a", signal = "StrSoC" }]\n'
    )
    result = check_config(mapping)
    assert result.returncode == 2
    assert "signal 'StrVolts' does not exist in message STR_STATUS" in result.stderr
    assert "unit mismatch: the DBC says '%', the field needs 'A'" in result.stderr
    assert "say which way the BMS counts this current as positive" in result.stderr
