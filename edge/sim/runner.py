"""Runs the simulated BMS on a python-can bus, in real or accelerated time."""

import logging
import threading
import time

import can

from edge.can.protocol import Protocol
from edge.sim.bms import SimBms
from edge.sim.faults import Fault, apply_fault, clear_fault
from edge.sim.incidents import Change, IncidentPlan, recurring
from edge.sim.plant import Plant, PlantSpec
from edge.sim.schedule import planned_kw
from edge.site import SimulatorConfig, SiteFile

log = logging.getLogger("edge.sim")


def plant_for(site: SiteFile) -> Plant:
    """A plant built from the site file's topology and simulator settings."""
    info, sim = site.site, site.simulator
    spec = PlantSpec(
        info.strings,
        info.modules_per_string,
        info.cells_per_module,
        info.temps_per_module,
        info.module_capacity_ah,
        info.string_rated_a,
        info.nameplate_energy_kwh,
        info.nameplate_power_kw,
        initial_soc=sim.initial_soc_pct / 100,
    )
    return Plant.build(spec, seed=sim.seed)


def scheduled_kw(plant: Plant, sim: SimulatorConfig, ts: float) -> float:
    """The daily plan's set-point for the plant at simulated time `ts` (positive discharges)."""
    spec = plant.spec
    return planned_kw(
        ts,
        soc=plant.soc(),
        energy_kwh=spec.energy_kwh,
        power_kw=spec.power_kw,
        zone=sim.zone,
        seed=sim.seed,
    )


def scripted_incidents(site: SiteFile) -> IncidentPlan:
    """The site file's recurring incident as a plan (an empty one without)."""
    config = site.simulator.incident
    if config is None:
        return IncidentPlan([])
    return IncidentPlan(
        recurring(
            Fault.parse(config.fault),
            first_h=config.first_h,
            every_h=config.every_h,
            lasts_h=config.lasts_h,
        )
    )


class Simulator(threading.Thread):
    """Steps the plant, puts its frames on the bus and answers command frames."""

    def __init__(
        self, site: SiteFile, protocol: Protocol, bus: can.BusABC, faults: list[Fault] | None = None
    ) -> None:
        super().__init__(name=f"sim-{site.site.code}", daemon=True)
        self.site = site
        self.plant = plant_for(site)
        self.bms = SimBms(self.plant, protocol)
        self.bus = bus
        self.pending_faults = sorted(faults or [], key=lambda f: f.at)
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # tests inject faults while the loop runs
        self.started_at = time.time()
        self.setpoint_override_kw: float | None = site.simulator.setpoint_kw
        self.incidents = scripted_incidents(site)

    def sim_time(self, now: float) -> float:
        """Simulated wall-clock time: the real start plus accelerated elapsed time."""
        return self.started_at + (now - self.started_at) * self.site.simulator.acceleration

    def setpoint_kw(self, now: float) -> float:
        """The site's set-point in kW, positive discharging: the schedule's, or a constant one."""
        if self.setpoint_override_kw is not None:
            return self.setpoint_override_kw
        return scheduled_kw(self.plant, self.site.simulator, self.sim_time(now))

    def inject(self, fault: Fault) -> None:
        """Make a fault happen now."""
        with self.lock:
            apply_fault(self.plant, fault)
        log.warning("injected fault %s", fault)

    def repair(self, fault: Fault) -> None:
        """Undo an injected fault, as a technician's repair would (latched bits stay)."""
        with self.lock:
            clear_fault(self.plant, fault)
        log.warning("repaired fault %s", fault)

    def run(self) -> None:
        """Loop until stopped: step, evaluate, send, answer commands."""
        period = self.site.simulator.frame_period_s
        last = time.time()
        while not self.stopping.is_set():
            now = time.time()
            self._due_faults(now)
            with self.lock:
                dt = (now - last) * self.site.simulator.acceleration
                self.plant.step(dt, self.setpoint_kw(now), now=now)
                self.bms.evaluate()
                frames = self.bms.frames()
            last = now
            for frame in frames:
                self.bus.send(
                    can.Message(arbitration_id=frame.frame_id, data=frame.data, is_extended_id=True)
                )
            self._answer_commands(until=now + period)

    def _due_faults(self, now: float) -> None:
        while self.pending_faults and now - self.started_at >= self.pending_faults[0].at:
            self.inject(self.pending_faults.pop(0))
        elapsed_s = (now - self.started_at) * self.site.simulator.acceleration
        for due in self.incidents.due(elapsed_s):
            (self.inject if due.change is Change.INJECT else self.repair)(due.fault)

    def _answer_commands(self, *, until: float) -> None:
        while not self.stopping.is_set():
            remaining = until - time.time()
            if remaining <= 0:
                return
            message = self.bus.recv(timeout=remaining)
            if message is None or not self.bms.is_command(message.arbitration_id):
                continue
            with self.lock:
                answer = self.bms.handle_command(
                    message.arbitration_id, bytes(message.data), time.time()
                )
            for frame in answer:
                self.bus.send(
                    can.Message(arbitration_id=frame.frame_id, data=frame.data, is_extended_id=True)
                )

    def stop(self) -> None:
        """Ask the loop to end."""
        self.stopping.set()
