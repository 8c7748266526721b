"""Open the lab's devices for a backend: `serial` (the URLs in the lab file) or `sim` (emulators started here)."""

from __future__ import annotations

from robot.drivers.cavro import CavroPump
from robot.drivers.mettler import Balance
from robot.drivers.palmsens import Potentiostat
from robot.drivers.port import Port
from robot.lab import LabConfig
from robot.procedure import Devices


def identify(devices: Devices) -> dict[str, str]:
    """What each instrument says it is (serial numbers, firmware), read at start-up for every measurement's record."""
    ids = {**devices.balance.identity(), **devices.potentiostat.identity()}
    firmware = {a: p.firmware() for a, p in devices.pumps.items()}
    if len(set(firmware.values())) == 1:
        ids["pumps_firmware"] = next(iter(firmware.values()))
    else:
        ids.update({f"pump_{a}_firmware": f for a, f in sorted(firmware.items())})
    return ids


class Rig:
    """The open devices of a lab; `reconnect` reopens the lines after a dropped connection."""

    def __init__(self, lab: LabConfig, backend: str = "serial", world=None, seed: int = 0):
        self.sim = None
        if backend == "sim":
            from robot.sim.lab import SimLab
            from robot.sim.truth import from_table
            from robot.sim.world import World

            self.sim = SimLab(lab, world or World(seed=seed, truth=from_table(lab.truth)))
            lab = self.sim.lab
            w = self.sim.world
            thermometer = w.read_temperature_K
            reference = w.read_reference_temperature_K if lab.reference_thermometer else None
            thermostat = w.set_temperature if lab.thermostat else None
            diagnose = lambda: w.truth_error  # noqa: E731
        elif backend == "serial":
            if lab.temperature_K is None:
                raise ValueError("the serial backend needs temperature_K in the lab file (no sensor driver configured)")
            if lab.reference_thermometer or lab.thermostat:
                raise ValueError("reference_thermometer and thermostat = true: the serial backend has no driver for "
                                 "them yet; set them to false")
            const = float(lab.temperature_K)
            thermometer = lambda: const  # noqa: E731
            reference = thermostat = diagnose = None
        else:
            raise ValueError(f"unknown backend {backend!r}; choose sim or serial")
        self.lab = lab
        self.thermometer = thermometer
        self.reference = reference
        self.thermostat = thermostat
        self.diagnose = diagnose
        self.devices = None
        self.reconnect()

    def reconnect(self) -> Devices:
        if self.devices is not None:
            self.close_devices()
        lab = self.lab
        port = Port(lab.pump_url, baudrate=9600, timeout=2.0)  # the pumps share one RS-485 line
        addresses = [s.pump_address for s in lab.stocks] + [lab.transfer_pump, lab.rinse_pump]
        if lab.standard_pump is not None:
            addresses.append(lab.standard_pump)
        pumps = {a: CavroPump(lab.pump_url, a, lab.syringe_ul, lab.pump_steps, port=port, protocol=lab.pump_protocol)
                 for a in addresses}
        self.devices = Devices(pumps, Balance(lab.balance_url), Potentiostat(lab.potentiostat_url), self.thermometer,
                               reference_thermometer=self.reference, thermostat=self.thermostat, diagnose=self.diagnose)
        for p in pumps.values():
            p.initialize()
        self.devices.instrument_ids = identify(self.devices)
        return self.devices

    def close_devices(self) -> None:
        d = self.devices
        next(iter(d.pumps.values())).close()
        d.balance.close()
        d.potentiostat.close()

    def close(self) -> None:
        if self.devices is not None:
            self.close_devices()
        if self.sim is not None:
            self.sim.close()
