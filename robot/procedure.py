"""The measurement procedure (the paper's Clio method): plan, dispense and weigh, fill the cell, measure impedance,
analyse, compute conductivity, rinse. It knows nothing of the service; the agent calls it.

Retries happen only where repeating is harmless: status queries, weighing and impedance sweeps. A pump move that
was not confirmed leaves the vial's contents unknown, so the experiment fails (retryable) instead of guessing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from model import eis
from model.cell import cell_constant_per_cm, kcl_standard_mS_cm
from model.contract import Recipe, Result, Spectrum
from robot.drivers.cavro import CavroPump
from robot.drivers.mettler import Balance
from robot.drivers.palmsens import Potentiostat
from robot.errors import (
    DeviceDisconnected,
    DeviceTimeout,
    MeasurementInvalid,
    ProtocolError,
    PumpError,
    RecipeError,
    VesselsNotClean,
)
from robot.lab import LabConfig
from robot.recipe import composition_from_masses, plan_masses

T = TypeVar("T")
OPEN_CIRCUIT_OHM = 1e6  # a bulk resistance above this means the electrodes are not both wetted
CLEAN, DIRTY, UNKNOWN = "clean", "dirty", "unknown"  # what the vial and the cell hold: nothing, a sample, or who knows
LINE_FAULTS = (DeviceDisconnected, DeviceTimeout, ProtocolError, PumpError)


@dataclass
class Devices:
    pumps: dict[int, CavroPump]
    balance: Balance
    potentiostat: Potentiostat
    thermometer: Callable[[], float]
    instrument_ids: dict[str, str] = field(default_factory=dict)  # as the instruments identified themselves
    reference_thermometer: Callable[[], float] | None = None  # independent of the cell's own sensor
    thermostat: Callable[[float], None] | None = None  # sends the cell's bath to a set point (K)
    diagnose: Callable[[], str | None] | None = None  # why the instruments read nothing, when a simulator knows


@dataclass
class Inventory:
    remaining_ml: dict[str, float]

    def take(self, stock: str, ml: float) -> None:
        left = self.remaining_ml.get(stock, 0.0)
        if ml > left:
            raise RecipeError(f"stock {stock!r} has {left:.2f} mL left, {ml:.2f} mL needed: refill it")
        self.remaining_ml[stock] = left - ml


@dataclass
class Measurement:
    result: Result  # the body of POST /v1/experiments/{id}/result
    log: list[str] = field(default_factory=list)


def retry(fn: Callable[[], T], attempts: int = 3, backoff: float = 0.05,
          on_retry: Callable[[BaseException], None] | None = None) -> T:
    """Retry an idempotent device call on timeouts, garbled replies and dropped lines, with exponential backoff
    (the one device retry policy, tenacity's); the last failure is raised as it was."""
    policy = Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=backoff),
                      retry=retry_if_exception_type((DeviceTimeout, ProtocolError, DeviceDisconnected)), reraise=True,
                      before_sleep=(lambda s: on_retry(s.outcome.exception())) if on_retry else None)
    return policy(fn)


class Procedure:
    def __init__(self, lab: LabConfig, devices: Devices, inventory: Inventory, reconnect: Callable[[], None] | None = None):
        self.lab = lab
        self.dev = devices
        self.inventory = inventory
        self._reconnect = reconnect
        self.needs_reconnect = False
        self.halted = False  # set by an emergency stop: no pump moves again in this process
        self.log: list[str] = []
        # the vial and the cell: a sample is only made into vessels known to be clean; the agent journals every
        # change (on_vessels) and restores the last state after a restart, so a crash never hides a dirty cell
        self.vessels = {"vial": UNKNOWN, "cell": UNKNOWN}
        self.on_vessels: Callable[[dict[str, str]], None] | None = None

    def reconnect(self) -> None:
        """Reopen every line (after a dropped connection) and use the new handles."""
        if self._reconnect is None:
            return
        self.dev = self._reconnect()
        self.needs_reconnect = False
        self._note("devices reconnected")

    def _note(self, msg: str) -> None:
        self.log.append(f"{datetime.now(UTC).isoformat(timespec='seconds')} {msg}")

    def _retry(self, fn):
        def again(e):
            self._note(f"retrying after {type(e).__name__}: {e}")
            if isinstance(e, DeviceDisconnected):
                self.reconnect()
        return retry(fn, on_retry=again)

    # ------------------------------------------------------------------ steps
    def plan(self, recipe: Recipe) -> dict[str, float]:
        # plan_masses already leaves out (or refuses) any stock below the pumps' smallest dispense
        masses = plan_masses(recipe, self.lab.stocks, self.lab.sample_volume_ml, self.lab.min_dispense_ul / 1000.0)
        for name, g in masses.items():
            ml = g / self.lab.stock(name).density_g_ml
            if self.inventory.remaining_ml.get(name, 0.0) < ml:
                raise RecipeError(f"stock {name!r} has {self.inventory.remaining_ml.get(name, 0):.2f} mL left, "
                                  f"{ml:.2f} mL needed: refill it")
        return masses

    def dispense_and_weigh(self, masses: dict[str, float]) -> dict[str, float]:
        """Dispense each stock and weigh what arrived; the weighed masses are what the composition is made of."""
        weighed = {}
        self._retry(self.dev.balance.zero)
        for name, grams in masses.items():
            s = self.lab.stock(name)
            before = self._retry(self.dev.balance.weigh_g)
            ul = grams / s.density_g_ml * 1000.0
            self.dev.pumps[s.pump_address].transfer(ul)  # not retried: an unconfirmed move is an unknown vial
            self.inventory.take(name, ul / 1000.0)
            after = self._retry(self.dev.balance.weigh_g)
            weighed[name] = after - before
            self._note(f"{name}: asked {grams:.4f} g, weighed {weighed[name]:.4f} g")
            if weighed[name] <= 0:
                raise MeasurementInvalid(f"the balance saw no mass arrive from {name}")
        return weighed

    def fill_cell(self) -> None:
        pump = self.dev.pumps[self.lab.transfer_pump]
        pump.transfer(min(self.lab.syringe_ul, self.lab.sample_volume_ml * 500.0))

    def rinse(self) -> None:
        pump = self.dev.pumps[self.lab.rinse_pump]
        pump.transfer(min(self.lab.syringe_ul, 1000.0))

    def mark(self, **states: str) -> None:
        """Record what the vial and the cell now hold (journaled by the agent)."""
        self.vessels.update(states)
        if self.on_vessels is not None:
            self.on_vessels(dict(self.vessels))

    @property
    def clean(self) -> bool:
        """Whether both vessels are known to be clean."""
        return all(v == CLEAN for v in self.vessels.values())

    def make_clean(self) -> None:
        """Rinse until the vessels are known clean, reconnecting between tries; VesselsNotClean when it cannot."""
        last: Exception | None = None
        for i in range(self.lab.rinse_attempts):
            if self.clean:
                return
            if self.halted:
                raise VesselsNotClean("emergency stop: the vessels are not rinsed and nothing moves")
            try:
                if self.needs_reconnect:
                    self.reconnect()
                self.rinse()
                self.mark(vial=CLEAN, cell=CLEAN)
                return
            except LINE_FAULTS as e:
                last = e
                self.needs_reconnect = True
                self.mark(vial=UNKNOWN, cell=UNKNOWN)  # the rinse may have run in part
                self._note(f"rinse {i + 1} of {self.lab.rinse_attempts} failed: {type(e).__name__}: {e}")
                time.sleep(0.05 * 2**i)
        raise VesselsNotClean(f"the cell and vial could not be rinsed after {self.lab.rinse_attempts} attempts "
                              f"(last: {type(last).__name__}: {last}); no sample is made until they are")

    def _rinse_after(self) -> None:
        """The rinse after a sample: its failure leaves the vessels marked unknown for the next make_clean, and
        never discards the measurement that was already made."""
        if self.halted:  # after an emergency stop nothing moves, not even the rinse
            return
        try:
            self.rinse()
            self.mark(vial=CLEAN, cell=CLEAN)
        except LINE_FAULTS as e:
            self.needs_reconnect = True
            self.mark(vial=UNKNOWN, cell=UNKNOWN)
            self._note(f"rinse after the sample failed ({type(e).__name__}: {e}); it is retried before the next")

    def measure_resistance(self) -> tuple[eis.EisResult, dict, list[dict]]:
        lab = self.lab
        sp = self._retry(lambda: self.dev.potentiostat.eis(lab.eis_f_max_hz, lab.eis_f_min_hz, lab.eis_points))
        z_min = float(np.min(np.hypot(sp.z_real_ohm, sp.z_imag_ohm)))
        if z_min > OPEN_CIRCUIT_OHM:  # judged on the raw spectrum, whatever method would follow
            raise MeasurementInvalid(f"open circuit (|Z| ≥ {z_min:.3g} Ω across the band): air bubble or an unfilled cell")
        res = eis.analyze(sp.frequency_Hz, sp.z_real_ohm, sp.z_imag_ohm, "min-phase")
        res.flags = sorted(set(res.flags) | set(sp.flags))  # the instrument's own overload or underload marks
        sweeps = []
        if "plateau_not_reached" in res.flags:
            wide = self._retry(lambda: self.dev.potentiostat.eis(lab.wide_f_max_hz, lab.wide_f_min_hz, lab.wide_points))
            sweeps.append({"purpose": "wide sweep for the equivalent-circuit fit", **wide.as_dict()})
            fitted = eis.fit(wide.frequency_Hz, wide.z_real_ohm, wide.z_imag_ohm)
            fitted.flags = sorted(set(fitted.flags) | {"plateau_not_reached"})
            res = fitted
        if res.resistance_ohm > OPEN_CIRCUIT_OHM or not np.isfinite(res.resistance_ohm):
            raise MeasurementInvalid(f"open circuit ({res.resistance_ohm:.3g} Ω): air bubble or an unfilled cell")
        if "fit_poor" in res.flags:
            raise MeasurementInvalid(f"the equivalent circuit does not describe the spectrum (residual {res.fit_residual:.1%})")
        return res, sp.as_dict(), sweeps

    def check_temperature(self, t0: float, t1: float, planned_K: float | None) -> float:
        """The cell's temperature over the sweep, refused (MeasurementInvalid) when it drifted, is off the planned
        temperature or disagrees with the reference thermometer, by more than the lab file's tolerances."""
        lab = self.lab
        if abs(t1 - t0) > lab.max_temperature_drift_K:
            raise MeasurementInvalid(f"cell temperature drifted {t1 - t0:+.2f} K during the sweep")
        t = 0.5 * (t0 + t1)
        if planned_K is not None and abs(t - planned_K) > lab.temperature_tolerance_K:
            raise MeasurementInvalid(f"cell at {t:.2f} K, planned {planned_K:.2f} K "
                                     f"(tolerance {lab.temperature_tolerance_K:g} K)")
        if self.dev.reference_thermometer is not None:
            ref = self.dev.reference_thermometer()
            if abs(t - ref) > lab.temperature_tolerance_K:
                raise MeasurementInvalid(f"cell thermometer reads {t:.2f} K, the reference {ref:.2f} K "
                                         f"(tolerance {lab.temperature_tolerance_K:g} K)")
        return t

    def settle(self, planned_K: float) -> float:
        """Send the thermostat to the planned temperature and wait until the bath (the reference probe when there is
        one, else the cell's sensor) reads within half the tolerance three times in a row (MeasurementInvalid after
        ``settle_timeout_s``). Returns the settled reading."""
        assert self.dev.thermostat is not None
        self.dev.thermostat(planned_K)
        read = self.dev.reference_thermometer or self.dev.thermometer
        lab = self.lab
        deadline = time.monotonic() + lab.settle_timeout_s
        inside, t = 0, float("nan")
        while time.monotonic() < deadline:
            t = read()
            inside = inside + 1 if abs(t - planned_K) <= lab.temperature_tolerance_K / 2 else 0
            if inside >= 3:
                self._note(f"thermostat settled at {t:.2f} K (planned {planned_K:.2f} K)")
                return t
            time.sleep(lab.settle_poll_s)
        raise MeasurementInvalid(f"the thermostat did not settle at {planned_K:.2f} K within {lab.settle_timeout_s:g} s "
                                 f"(the cell reads {t:.2f} K)")

    def measure(self, attempts: int = 2, planned_K: float | None = None
                ) -> tuple[eis.EisResult, dict, list[dict], float, list[str]]:
        """Impedance and temperature, re-measured (refilling the cell) on a bubble or a wrong temperature."""
        last: Exception | None = None
        flags: list[str] = []
        for i in range(attempts):
            try:
                t0 = self.dev.thermometer()
                res, spectrum, sweeps = self.measure_resistance()
                t1 = self.dev.thermometer()
                return res, spectrum, sweeps, self.check_temperature(t0, t1, planned_K), flags
            except MeasurementInvalid as e:
                last = e
                flags.append(f"remeasured: {e}")
                self._note(f"measurement {i + 1} invalid: {e}; refilling the cell")
                self.fill_cell()
        why = self.dev.diagnose() if self.dev.diagnose is not None else None
        raise MeasurementInvalid(f"{last} (after {attempts} attempts)" + (f"; {why}" if why else ""))

    # ------------------------------------------------------------------ the whole experiment
    def run(self, recipe: Recipe, cell_constant_per_cm: float, calibration_id: int | None,
            planned_temperature_K: float | None = None) -> Measurement:
        """Make and measure one experiment into vessels known clean; rinse after it."""
        started = datetime.now(UTC)
        self.log = []
        if self.needs_reconnect:
            self.reconnect()
        masses = self.plan(recipe)
        self.make_clean()  # never a sample on top of an earlier one: VesselsNotClean stops the robot
        try:
            self.mark(vial=DIRTY)
            weighed = self.dispense_and_weigh(masses)
            composition = composition_from_masses(weighed, self.lab.stocks, recipe.salt)
            self.mark(cell=DIRTY)
            self.fill_cell()
            if self.dev.thermostat is not None and planned_temperature_K is not None:
                self.settle(planned_temperature_K)
            res, spectrum, sweeps, temperature, flags = self.measure(planned_K=planned_temperature_K)
        except (DeviceDisconnected, DeviceTimeout, PumpError):
            self.needs_reconnect = True  # reopen the lines and re-initialise the pumps before the next sample
            raise
        finally:
            self._rinse_after()
        kappa = res.conductivity_mS_cm(cell_constant_per_cm)
        self._note(f"R = {res.resistance_ohm:.4g} Ω ({res.method}), κ = {kappa:.4g} mS/cm at {temperature:.2f} K")
        result = Result(
            spectrum=Spectrum(**spectrum, sweeps=sweeps), resistance_ohm=res.resistance_ohm,
            cell_constant_per_cm=cell_constant_per_cm, calibration_id=calibration_id, temperature_K=temperature,
            conductivity_mS_cm=kappa, method=res.method, quality_flags=sorted(set(res.flags) | set(flags)),
            measured_composition=composition, instrument_ids={**self.lab.instrument_ids, **self.dev.instrument_ids},
            started_at=started, finished_at=datetime.now(UTC))
        return Measurement(result, list(self.log))

    def calibrate(self) -> tuple[float, float, float]:
        """Single-point cell calibration with the conductivity standard: K = κ_std(T) · R."""
        if self.lab.standard_pump is None:
            raise RecipeError("no standard pump configured for calibration")
        if self.needs_reconnect:
            self.reconnect()
        self.make_clean()
        try:
            self.mark(vial=DIRTY)
            self.dev.pumps[self.lab.standard_pump].transfer(1000.0)
            self.mark(cell=DIRTY)
            self.fill_cell()
            res, _, _, temperature, _ = self.measure()
        except LINE_FAULTS:
            self.needs_reconnect = True
            raise
        finally:
            self._rinse_after()
        kappa_std = kcl_standard_mS_cm(self.lab.standard_mS_cm, temperature)
        return cell_constant_per_cm(kappa_std, res.resistance_ohm), kappa_std, res.resistance_ohm

    def emergency_stop(self) -> None:
        self.halted = True
        for pump in self.dev.pumps.values():
            try:
                pump.stop()
            except Exception:  # noqa: BLE001 - stop every pump even if one line is dead
                pass
