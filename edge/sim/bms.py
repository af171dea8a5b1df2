"""The simulated BMS: fault bits from limits, its own protection, frames out, commands in."""

import logging
from dataclasses import dataclass

from edge.can.codec import encode
from edge.can.protocol import Protocol
from edge.sim import lfp
from edge.sim.plant import Plant, SimModule, SimString
from edge.sim.snapshots import module_cells, module_temps

log = logging.getLogger("edge.sim.bms")

# Fault bits as the reference DBC documents them.
M_CELL_OV_WARN, M_CELL_OV_ALARM, M_CELL_UV_WARN, M_CELL_UV_ALARM = 0, 1, 2, 3
M_OT_WARN, M_OT_ALARM, M_UT_WARN = 4, 5, 6
S_INSULATION_WARN, S_INSULATION_ALARM, S_CONTACTOR_FAIL = 0, 1, 4
LATCHED_MODULE_BITS = (1 << M_CELL_OV_ALARM) | (1 << M_CELL_UV_ALARM) | (1 << M_OT_ALARM)

OP_DERATE, OP_CONNECT, OP_DISCONNECT, OP_ENABLE, OP_DISABLE = 1, 2, 3, 4, 5
OP_MODULE_BYPASS, OP_MODULE_RETURN, OP_ALARM_RESET, OP_BALANCING = 6, 7, 8, 9
ACK_DONE, ACK_UNSUPPORTED, ACK_INVALID_TARGET = 0, 2, 3
DIS_RSN_FAULT = 1


@dataclass(frozen=True, slots=True)
class OutFrame:
    """A frame the BMS puts on the bus."""

    frame_id: int
    data: bytes


def _bit(condition: bool, bit: int) -> int:
    return (1 << bit) if condition else 0


def module_faults(module: SimModule, ambient_c: float) -> int:
    """The module's fault word from its cell voltages and temperatures."""
    volts = [c.voltage for c in module.cells]
    hottest = max(module.temps) + module.temp_offset_c if module.temps else ambient_c
    coldest = min(module.temps) + module.temp_offset_c if module.temps else ambient_c
    word = (
        _bit(max(volts) >= lfp.CELL_OV_WARNING_V, M_CELL_OV_WARN)
        | _bit(max(volts) >= lfp.CELL_OV_ALARM_V, M_CELL_OV_ALARM)
        | _bit(min(volts) <= lfp.CELL_UV_WARNING_V, M_CELL_UV_WARN)
        | _bit(min(volts) <= lfp.CELL_UV_ALARM_V, M_CELL_UV_ALARM)
        | _bit(hottest >= lfp.OVER_TEMP_WARNING_C, M_OT_WARN)
        | _bit(hottest >= lfp.OVER_TEMP_ALARM_C, M_OT_ALARM)
        | _bit(coldest <= lfp.UNDER_TEMP_WARNING_C, M_UT_WARN)
    )
    # Alarm-level bits latch until an alarm reset (SunSpec AlmRst).
    return word | (module.faults & LATCHED_MODULE_BITS)


class SimBms:
    """Wraps a plant: evaluates limits and protection, encodes frames, obeys command frames."""

    def __init__(self, plant: Plant, protocol: Protocol) -> None:
        self.plant = plant
        self.protocol = protocol
        self.messages = {
            name: protocol.message(name)
            for name in (
                "MOD_CELL_V",
                "MOD_TEMP",
                "MOD_STATUS",
                "MOD_FLAGS",
                "STR_STATUS",
                "STR_LIMITS",
                "STR_ENERGY",
                "STR_FAULTS",
                "CMD",
                "ACK",
                "SYS_STATUS",
                "SYS_LIMITS",
            )
        }
        self.cmd_type: int = self.messages["CMD"].frame_id

    def evaluate(self) -> None:
        """Update fault words and apply the BMS's own protection (opens the string)."""
        for string in self.plant.strings:
            for module in string.modules:
                module.faults = module_faults(module, self.plant.spec.ambient_c)
            string.faults = (
                _bit(string.insulation_kohm < lfp.INSULATION_WARNING_KOHM, S_INSULATION_WARN)
                | _bit(string.insulation_kohm < lfp.INSULATION_ALARM_KOHM, S_INSULATION_ALARM)
                | _bit(string.contactor_stuck, S_CONTACTOR_FAIL)
            )
            if string.contactor_closed and self._needs_protection(string):
                log.warning("BMS protection opens string %d", string.index)
                string.contactor_closed = False
                string.dis_reason = DIS_RSN_FAULT

    def _needs_protection(self, string: SimString) -> bool:
        volts = string.cell_voltages()
        hottest = max(
            (max(m.temps) + m.temp_offset_c for m in string.modules if m.temps), default=0.0
        )
        return bool(volts) and (
            max(volts) >= lfp.PROTECT_CELL_HIGH_V
            or min(volts) <= lfp.PROTECT_CELL_LOW_V
            or hottest >= lfp.PROTECT_TEMP_C
        )

    def frames(self) -> list[OutFrame]:
        """One full set of module and string frames, in bus order."""
        out: list[OutFrame] = []
        for string in self.plant.strings:
            for module in string.modules:
                if module.comms_ok:
                    out.extend(self._module_frames(string, module))
            out.extend(self._string_frames(string))
        return out + self._system_frames()

    def _system_frames(self) -> list[OutFrame]:
        """The BMS master's view of the whole system: the connected strings together."""
        plant = self.plant
        closed = plant.connected()
        volts = max((s.voltage() for s in closed), default=0.0)
        charge = sum(s.charge_limit_a for s in closed)
        discharge = sum(s.discharge_limit_a for s in closed)
        soh = min(m.soh for s in plant.strings for m in s.modules)
        status = {
            "SysSoC": round(plant.soc() * 100, 1),
            "SysSoH": round(soh * 100, 1),
            "SysVoltage": round(volts, 1),
            "SysCurrent": round(sum(s.current_a for s in plant.strings), 1),
        }
        limits = {
            "SysChaLimit": round(charge, 1),
            "SysDisLimit": round(discharge, 1),
            "SysChaPower": round(charge * volts / 1000, 1),
            "SysDisPower": round(discharge * volts / 1000, 1),
        }
        return [self._frame("SYS_STATUS", 0, 0, status), self._frame("SYS_LIMITS", 0, 0, limits)]

    def _frame(self, name: str, string: int, module: int, values: dict[str, float]) -> OutFrame:
        message = self.messages[name]
        return OutFrame(message.frame_id | string << 8 | module, encode(message, values))

    def _module_frames(self, string: SimString, module: SimModule) -> list[OutFrame]:
        module.alive = (module.alive + 1) % 256
        position = module.position
        cells, temps = list(module_cells(module)), list(module_temps(module))
        frames = self._grouped("MOD_CELL_V", "CellGroup", "CellV", cells, (string.index, position))
        frames += self._grouped("MOD_TEMP", "TempGroup", "Temp", temps, (string.index, position))
        frames.append(
            self._frame("MOD_STATUS", string.index, position, self._status(string, module))
        )
        balancing = sum(1 << i for i, c in enumerate(module.cells) if c.bleeding)
        frames.append(
            self._frame(
                "MOD_FLAGS",
                string.index,
                position,
                {"Balancing": balancing, "ModFaults": module.faults, "ModStatus": 0b11},
            )
        )
        return frames

    def _grouped(
        self, name: str, mux: str, prefix: str, values: list[float], where: tuple[int, int]
    ) -> list[OutFrame]:
        """Multiplexed frames of four values each, every value flagged valid."""
        frames = []
        for group in range((len(values) + 3) // 4):
            signals: dict[str, float] = {mux: group}
            for n in range(group * 4 + 1, min(group * 4 + 4, len(values)) + 1):
                signals[f"{prefix}_{n:02}"] = values[n - 1]
                signals[f"{prefix}_{n:02}_Ok"] = 1
            frames.append(self._frame(name, where[0], where[1], signals))
        return frames

    def _status(self, string: SimString, module: SimModule) -> dict[str, float]:
        cells = module.cells
        soc = sum(c.soc for c in cells) / len(cells)
        current = 0.0 if module.bypassed else string.current_a
        return {
            "ModSoC": round(soc * 100, 1),
            "ModSoC_Ok": 1,
            "ModSoH": round(module.soh * 100, 1),
            "ModSoH_Ok": 1,
            "ModVoltage": round(sum(c.voltage for c in cells), 2),
            "ModCurrent": round(current, 1),
            "ModCurrent_Ok": 1,
            "ModBypassed": int(module.bypassed),
            "ModAlive": module.alive,
        }

    def _string_frames(self, string: SimString) -> list[OutFrame]:
        string.heartbeat = (string.heartbeat + 1) % 64
        connected = sum(1 for m in string.modules if not m.bypassed)
        return [
            self._frame(
                "STR_STATUS",
                string.index,
                0,
                {
                    "StrVoltage": round(string.voltage(), 1),
                    "StrCurrent": round(string.current_a, 1),
                    "StrSoC": round(string.soc() * 100, 1),
                    "StrSoH": round(min(m.soh for m in string.modules) * 100, 1),
                    "StrContactorClosed": int(string.contactor_closed),
                    "StrConFail": int(string.contactor_stuck),
                    "StrEnabled": int(string.enabled),
                    "StrDisRsn": string.dis_reason,
                    "StrHeartbeat": string.heartbeat,
                },
            ),
            self._frame(
                "STR_LIMITS",
                string.index,
                0,
                {
                    "StrChaLimit": round(string.charge_limit_a, 1),
                    "StrDisLimit": round(string.discharge_limit_a, 1),
                    "StrInsulation": round(string.insulation_kohm),
                    "StrInsulation_Ok": 1,
                    "StrNModConnected": connected,
                    "StrNModBypassed": len(string.modules) - connected,
                },
            ),
            self._frame(
                "STR_ENERGY",
                string.index,
                0,
                {
                    "StrEnergyCharged": round(string.energy_in_kwh, 1),
                    "StrEnergyDischarged": round(string.energy_out_kwh, 1),
                },
            ),
            self._frame("STR_FAULTS", string.index, 0, {"StrFaults": string.faults}),
        ]

    def is_command(self, frame_id: int) -> bool:
        """Whether a received frame is a command for this BMS."""
        return bool(frame_id & 0x1FFF0000 == self.cmd_type)

    def handle_command(self, frame_id: int, data: bytes, now: float) -> list[OutFrame]:
        """Carry out a command frame; returns the ACK frame and the string's fresh status.

        Like many BMSs, it sends its status frames at once when a command changes them
        (event-triggered), not only at the next cycle.
        """
        values: dict[str, float] = self.messages["CMD"].decode(data, decode_choices=False)
        string_no, module_no = (frame_id >> 8) & 0xFF, frame_id & 0xFF
        opcode = int(values["CmdOpcode"])
        strings = {s.index: s for s in self.plant.strings}
        string = strings.get(string_no)
        result = ACK_INVALID_TARGET
        if string is not None:
            result = self._apply(string, module_no, opcode, values, now)
        ack = {"AckCmdId": values["CmdId"], "AckResult": result, "AckOpcode": opcode}
        out = [self._frame("ACK", string_no, module_no, ack)]
        if string is not None and result == ACK_DONE:
            if opcode in (OP_DISCONNECT, OP_DISABLE):
                string.current_a = 0.0  # the contactor is open: nothing flows from now on
            out += self._string_frames(string)
            module = next((m for m in string.modules if m.position == module_no), None)
            if module is not None and module.comms_ok:
                out += self._module_frames(string, module)
        return out

    def _apply(
        self, string: SimString, module_no: int, opcode: int, values: dict[str, float], now: float
    ) -> int:
        if opcode == OP_DERATE:
            limit = string.rated_a * float(values["CmdParam"]) / 100.0
            string.charge_limit_a = string.discharge_limit_a = limit
            timeout = float(values["CmdTimeout"])
            string.derate_revert_at = now + timeout if timeout > 0 else None
        elif opcode in (OP_CONNECT, OP_ENABLE):
            string.enabled = True
            # A failed contactor does not close: the feedback shows it, the ACK does not.
            string.contactor_closed = not string.contactor_stuck
            string.dis_reason = 0 if string.contactor_closed else string.dis_reason
            if string.contactor_closed:
                # Closing re-arms the string's protection: its latched alarms reset, and a
                # condition still present raises them again at the next evaluation.
                for module in string.modules:
                    module.faults &= ~LATCHED_MODULE_BITS
        elif opcode in (OP_DISCONNECT, OP_DISABLE):
            string.contactor_closed = False
            string.enabled = opcode == OP_DISCONNECT
            string.dis_reason = int(values["CmdReason"])
        elif opcode in (OP_MODULE_BYPASS, OP_MODULE_RETURN):
            modules = {m.position: m for m in string.modules}
            if module_no not in modules:
                return ACK_INVALID_TARGET
            modules[module_no].bypassed = opcode == OP_MODULE_BYPASS
        elif opcode == OP_ALARM_RESET:
            for module in string.modules:
                module.faults &= ~LATCHED_MODULE_BITS
        elif opcode == OP_BALANCING:
            string.balancing_enabled = bool(values["CmdParam"])
        else:
            return ACK_UNSUPPORTED
        return ACK_DONE
