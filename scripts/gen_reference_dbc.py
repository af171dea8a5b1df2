"""Generate edge/protocols/reference.dbc, the Ridethrough reference BMS protocol.

The multiplexed cell and temperature frames repeat one layout per group, so the file is generated
rather than hand-written. Run: .venv/bin/python scripts/gen_reference_dbc.py
"""

from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "edge" / "protocols" / "reference.dbc"
EXTENDED = 0x8000_0000  # DBC marks 29-bit identifiers with bit 31
CELL_GROUPS = 8  # 4 cells per frame -> up to 32 cells per module
TEMP_GROUPS = 4  # 4 sensors per frame -> up to 16 temperatures per module


@dataclass(frozen=True)
class Sig:
    """One DBC signal line."""

    name: str
    start: int
    length: int
    scale: float = 1
    offset: float = 0
    lo: float = 0
    hi: float = 0
    unit: str = ""
    signed: bool = False
    big_endian: bool = False
    mux: str = ""  # "M" for the multiplexer, "m<k>" for a multiplexed signal
    comment: str = ""

    def line(self) -> str:
        """The SG_ line."""
        order = "0" if self.big_endian else "1"
        sign = "-" if self.signed else "+"
        mux = f" {self.mux}" if self.mux else ""
        return (
            f" SG_ {self.name}{mux} : {self.start}|{self.length}@{order}{sign} "
            f'({self.scale:g},{self.offset:g}) [{self.lo:g}|{self.hi:g}] "{self.unit}" EDGE'
        )


@dataclass(frozen=True)
class Msg:
    """One DBC message; `type_id` is the 13-bit message type in bits 28..16 of the frame id."""

    name: str
    type_id: int
    sender: str
    signals: list[Sig]
    comment: str
    cycle_ms: int
    values: dict[str, dict[int, str]] | None = None

    @property
    def dbc_id(self) -> int:
        """The identifier as written in the DBC (string 0, module 0, extended flag set)."""
        return EXTENDED | (self.type_id << 16)


def cell_signals() -> list[Sig]:
    """Four 13-bit cell voltages with validity flags per group, multiplexed by CellGroup."""
    sigs = [Sig("CellGroup", 0, 4, hi=15, mux="M", comment="Cells 4g+1..4g+4 follow.")]
    for group in range(CELL_GROUPS):
        for k in range(4):
            n = group * 4 + k + 1
            sigs.append(
                Sig(
                    f"CellV_{n:02}_Ok",
                    4 + k,
                    1,
                    hi=1,
                    mux=f"m{group}",
                    comment=f"1 = cell {n} voltage is valid.",
                )
            )
            sigs.append(
                Sig(
                    f"CellV_{n:02}",
                    8 + 13 * k,
                    13,
                    0.001,
                    0,
                    0,
                    8.191,
                    "V",
                    mux=f"m{group}",
                    comment=f"Cell {n} voltage.",
                )
            )
    return sigs


def temp_signals() -> list[Sig]:
    """Four 12-bit temperatures with validity flags per group, multiplexed by TempGroup."""
    sigs = [Sig("TempGroup", 0, 4, hi=15, mux="M", comment="Sensors 4g+1..4g+4 follow.")]
    for group in range(TEMP_GROUPS):
        for k in range(4):
            n = group * 4 + k + 1
            sigs.append(
                Sig(
                    f"Temp_{n:02}_Ok",
                    4 + k,
                    1,
                    hi=1,
                    mux=f"m{group}",
                    comment=f"1 = sensor {n} reading is valid.",
                )
            )
            sigs.append(
                Sig(
                    f"Temp_{n:02}",
                    8 + 12 * k,
                    12,
                    0.1,
                    -40,
                    -40,
                    369.5,
                    "degC",
                    mux=f"m{group}",
                    comment=f"Temperature sensor {n}.",
                )
            )
    return sigs


MESSAGES = [
    Msg("MOD_CELL_V", 0x101, "BMU", cell_signals(), "Module cell voltages, 4 per frame.", 250),
    Msg("MOD_TEMP", 0x102, "BMU", temp_signals(), "Module temperatures, 4 per frame.", 1000),
    Msg(
        "MOD_STATUS",
        0x103,
        "BMU",
        [
            Sig("ModSoC", 0, 10, 0.1, 0, 0, 102.3, "%", comment="Module state of charge."),
            Sig("ModSoH", 10, 10, 0.1, 0, 0, 102.3, "%", comment="Module state of health."),
            Sig("ModVoltage", 20, 16, 0.01, 0, 0, 655.35, "V", comment="Sum of cell voltages."),
            Sig(
                "ModCurrent",
                36,
                16,
                0.1,
                0,
                -3276.8,
                3276.7,
                "A",
                signed=True,
                comment="Module current, positive = discharging, negative = charging (SunSpec).",
            ),
            Sig("ModSoC_Ok", 52, 1, hi=1, comment="1 = SoC valid."),
            Sig("ModSoH_Ok", 53, 1, hi=1, comment="1 = SoH valid."),
            Sig("ModCurrent_Ok", 54, 1, hi=1, comment="1 = current valid."),
            Sig("ModBypassed", 55, 1, hi=1, comment="1 = module bypassed (vendor extension)."),
            Sig("ModAlive", 56, 8, hi=255, comment="Rolling counter, +1 per frame."),
        ],
        "Module state of charge, health, voltage and current.",
        1000,
    ),
    Msg(
        "MOD_FLAGS",
        0x104,
        "BMU",
        [
            Sig("Balancing", 0, 32, hi=4294967295, comment="Bit i = cell i+1 is being bled."),
            Sig(
                "ModFaults",
                32,
                16,
                hi=65535,
                comment=(
                    "Bit 0 cell OV warning, 1 cell OV alarm, 2 cell UV warning, 3 cell UV alarm, "
                    "4 over-temperature warning, 5 over-temperature alarm, 6 under-temperature, "
                    "7 internal comms fault, 8 balancing fault, 9 sensor fault."
                ),
            ),
            Sig("ModStatus", 48, 8, hi=255, comment="Bit 0 balancing enabled, 1 BMU ready."),
        ],
        "Module balancing, fault and status bits.",
        1000,
    ),
    Msg(
        "STR_STATUS",
        0x201,
        "BCU",
        [
            Sig("StrVoltage", 0, 16, 0.1, 0, 0, 6553.5, "V", comment="String voltage."),
            Sig(
                "StrCurrent",
                16,
                16,
                0.1,
                0,
                -3276.8,
                3276.7,
                "A",
                signed=True,
                comment="String current, positive = discharging, negative = charging (SunSpec).",
            ),
            Sig("StrSoC", 32, 10, 0.1, 0, 0, 102.3, "%", comment="String state of charge."),
            Sig("StrSoH", 42, 10, 0.1, 0, 0, 102.3, "%", comment="String state of health."),
            Sig("StrContactorClosed", 52, 1, hi=1, comment="Contactor feedback: 1 = closed."),
            Sig("StrConFail", 53, 1, hi=1, comment="Contactor failure (SunSpec StrConFail)."),
            Sig("StrEnabled", 54, 1, hi=1, comment="String enabled (SunSpec SetEna state)."),
            Sig(
                "StrDisRsn",
                55,
                3,
                hi=4,
                comment="SunSpec StrDisRsn: 0 none, 1 fault, 2 maintenance, 3 external, 4 other.",
            ),
            Sig("StrHeartbeat", 58, 6, hi=63, comment="Rolling counter, +1 per frame."),
        ],
        "String voltage, current, SoC/SoH, contactor and enable state.",
        200,
        {"StrDisRsn": {0: "none", 1: "fault", 2: "maintenance", 3: "external", 4: "other"}},
    ),
    Msg(
        "STR_LIMITS",
        0x202,
        "BCU",
        [
            Sig("StrChaLimit", 0, 16, 0.1, 0, 0, 6553.5, "A", comment="Charge current limit."),
            Sig("StrDisLimit", 16, 16, 0.1, 0, 0, 6553.5, "A", comment="Discharge current limit."),
            Sig("StrInsulation", 32, 16, 1, 0, 0, 65535, "kOhm", comment="Insulation resistance."),
            Sig("StrNModConnected", 48, 6, hi=63, comment="Modules connected in the string."),
            Sig("StrNModBypassed", 54, 6, hi=63, comment="Modules bypassed."),
            Sig("StrInsulation_Ok", 60, 1, hi=1, comment="1 = insulation measurement valid."),
        ],
        "String current limits (derate state), insulation and module counts.",
        1000,
    ),
    Msg(
        "STR_ENERGY",
        0x203,
        "BCU",
        [
            Sig(
                "StrEnergyCharged", 0, 32, 0.1, 0, 0, 429496729.5, "kWh", comment="Lifetime charge."
            ),
            Sig(
                "StrEnergyDischarged",
                32,
                32,
                0.1,
                0,
                0,
                429496729.5,
                "kWh",
                comment="Lifetime discharge.",
            ),
        ],
        "String energy counters (DC).",
        1000,
    ),
    Msg(
        "STR_FAULTS",
        0x204,
        "BCU",
        [
            Sig(
                "StrFaults",
                0,
                32,
                hi=4294967295,
                comment=(
                    "Bit 0 insulation warning, 1 insulation alarm, 2 over-current charge, "
                    "3 over-current discharge, 4 contactor failure, 5 module comms lost, "
                    "6 string over-voltage, 7 string under-voltage."
                ),
            ),
        ],
        "String fault bits.",
        1000,
    ),
    Msg(
        "CMD",
        0x301,
        "EDGE",
        [
            Sig("CmdId", 0, 16, hi=65535, comment="Command id, echoed in ACK."),
            Sig("CmdOpcode", 16, 8, hi=255, comment="What to do; see the value table."),
            Sig("CmdReason", 24, 3, hi=4, comment="SunSpec StrDisRsn for disconnects."),
            Sig(
                "CmdParam", 32, 16, 0.1, 0, 0, 6553.5, "%", comment="Derate: limit in % of rating."
            ),
            Sig(
                "CmdTimeout",
                48,
                16,
                hi=65535,
                unit="s",
                comment="Revert after this many seconds; 0 = no revert.",
            ),
        ],
        "Command from the edge to the BCU/BMU; string and module in the id.",
        0,
        {
            "CmdOpcode": {
                1: "derate",
                2: "connect",
                3: "disconnect",
                4: "enable",
                5: "disable",
                6: "module_bypass",
                7: "module_return",
                8: "alarm_reset",
                9: "balancing_mode",
            }
        },
    ),
    Msg(
        "ACK",
        0x302,
        "BCU",
        [
            Sig("AckCmdId", 0, 16, hi=65535, comment="Id of the command acknowledged."),
            Sig(
                "AckResult",
                16,
                8,
                hi=255,
                comment="0 done, 1 refused by interlock, 2 unsupported, 3 invalid target, 4 busy.",
            ),
            Sig("AckOpcode", 24, 8, hi=255, comment="Opcode of the command acknowledged."),
        ],
        "Acknowledgement of a command.",
        0,
        {
            "AckResult": {
                0: "done",
                1: "interlock",
                2: "unsupported",
                3: "invalid_target",
                4: "busy",
            }
        },
    ),
    Msg(
        "SYS_STATUS",
        0x401,
        "BCU",
        [
            Sig("SysSoC", 0, 10, 0.1, 0, 0, 102.3, "%", comment="System state of charge."),
            Sig("SysSoH", 10, 10, 0.1, 0, 0, 102.3, "%", comment="System state of health."),
            Sig("SysVoltage", 20, 16, 0.1, 0, 0, 6553.5, "V", comment="DC bus voltage."),
            Sig(
                "SysCurrent",
                36,
                20,
                0.1,
                0,
                -52428.8,
                52428.7,
                "A",
                signed=True,
                comment="System current, positive = discharging, negative = charging (SunSpec).",
            ),
        ],
        "The whole system (every string): pack-level SoC, SoH, voltage and current.",
        1000,
    ),
    Msg(
        "SYS_LIMITS",
        0x402,
        "BCU",
        [
            Sig("SysChaLimit", 0, 16, 0.1, 0, 0, 6553.5, "A", comment="Charge current limit."),
            Sig("SysDisLimit", 16, 16, 0.1, 0, 0, 6553.5, "A", comment="Discharge current limit."),
            Sig("SysChaPower", 32, 16, 0.1, 0, 0, 6553.5, "kW", comment="Charge power limit."),
            Sig("SysDisPower", 48, 16, 0.1, 0, 0, 6553.5, "kW", comment="Discharge power limit."),
        ],
        "The whole system's charge and discharge limits, as magnitudes.",
        1000,
    ),
]

HEADER = """VERSION ""

NS_ :
    CM_
    BA_DEF_
    BA_
    VAL_

BS_:

BU_: BMU BCU EDGE
"""

OVERVIEW = (
    "Ridethrough reference BMS protocol. 500 kbit/s, 29-bit identifiers: "
    "id = type << 16 | string << 8 | module (string 1..31, module 1..32; 0 = none). "
    "BMU = module battery management unit, BCU = string (rack) control unit, EDGE = collector."
)


def render() -> str:
    """The whole DBC file."""
    lines = [HEADER]
    for msg in MESSAGES:
        lines.append(f"BO_ {msg.dbc_id} {msg.name}: 8 {msg.sender}")
        lines.extend(sig.line() for sig in msg.signals)
        lines.append("")
    lines.append(f'CM_ "{OVERVIEW}";')
    for msg in MESSAGES:
        lines.append(f'CM_ BO_ {msg.dbc_id} "{msg.comment}";')
        lines.extend(
            f'CM_ SG_ {msg.dbc_id} {sig.name} "{sig.comment}";'
            for sig in msg.signals
            if sig.comment
        )
    lines += [
        'BA_DEF_ BO_ "GenMsgCycleTime" INT 0 65535;',
        'BA_DEF_ "Baudrate" INT 0 1000000;',
        'BA_DEF_DEF_ "GenMsgCycleTime" 0;',
        'BA_DEF_DEF_ "Baudrate" 500000;',
        'BA_ "Baudrate" 500000;',
    ]
    lines.extend(f'BA_ "GenMsgCycleTime" BO_ {m.dbc_id} {m.cycle_ms};' for m in MESSAGES)
    for msg in MESSAGES:
        for signal, table in (msg.values or {}).items():
            pairs = " ".join(f'{k} "{v}"' for k, v in sorted(table.items(), reverse=True))
            lines.append(f"VAL_ {msg.dbc_id} {signal} {pairs} ;")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
